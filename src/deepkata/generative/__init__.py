"""Generative models (Day 4): the variational autoencoder, GAN and DCGAN, and WaveNet, each
measured by a likelihood or a quality measure, not only shown.

- :mod:`~deepkata.generative.vae`: the reparameterization trick, the KL term in closed form, the
  ELBO and the importance-sampled log-likelihood (IWAE's L_k); MLP and convolutional VAEs.
"""
