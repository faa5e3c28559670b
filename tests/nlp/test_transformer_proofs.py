"""Our attention and Transformer layers equal PyTorch's, given the same weights, in float64."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepkata.models.attention import (
    AdditiveAttention,
    DotAttention,
    MultiHeadAttention,
    allowed_mask,
    scaled_dot_product,
)
from deepkata.models.transformer import DecoderLayer, EncoderLayer, PositionalEncoding
from deepkata.nlp.transformer import Transformer, TransformerConfig

ATOL = 1e-10


@pytest.fixture(autouse=True)
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def copy_mha(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """nn.MultiheadAttention's stacked in-projection, split into our q, k, v projections."""
    e = theirs.embed_dim
    with torch.no_grad():
        for k, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
            proj.weight.copy_(theirs.in_proj_weight[k * e : (k + 1) * e])
            proj.bias.copy_(theirs.in_proj_bias[k * e : (k + 1) * e])
        ours.out_proj.load_state_dict(theirs.out_proj.state_dict())


def randomize(module: nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


def padding(batch: int, length: int, lengths: list[int]) -> torch.Tensor:
    return torch.arange(length)[None, :] >= torch.tensor(lengths)[:, None]  # True at <pad>


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("heads", [1, 4])
def test_multi_head_attention_equals_torch(causal, heads):
    torch.manual_seed(0)
    e, b, t, s = 8, 3, 5, 5 if causal else 7
    theirs = nn.MultiheadAttention(e, heads, batch_first=True)
    randomize(theirs)
    ours = MultiHeadAttention(e, heads)
    copy_mha(ours, theirs)
    q, k, v = torch.randn(b, t, e), torch.randn(b, s, e), torch.randn(b, s, e)
    pad = padding(b, s, [s, s - 2, 3])
    causal_mask = torch.ones(t, s, dtype=torch.bool).triu(1) if causal else None  # True = may NOT attend
    expected, expected_w = theirs(q, k, v, key_padding_mask=pad, attn_mask=causal_mask, need_weights=True)
    allowed = allowed_mask(pad, t if causal else None)
    got, _ = ours(q, k, v, allowed)
    got_slow, got_w = ours(q, k, v, allowed, need_weights=True)
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)
    torch.testing.assert_close(got_slow, expected, rtol=0, atol=ATOL)
    torch.testing.assert_close(got_w, expected_w, rtol=0, atol=ATOL)
    # gradients flow the same way too
    q1, q2 = q.clone().requires_grad_(), q.clone().requires_grad_()
    theirs(q1, k, v, key_padding_mask=pad, attn_mask=causal_mask)[0].sum().backward()
    ours(q2, k, v, allowed)[0].sum().backward()
    torch.testing.assert_close(q2.grad, q1.grad, rtol=0, atol=ATOL)


def test_written_out_attention_equals_the_fused_kernel():
    q, k, v = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8)
    allowed = torch.rand(2, 1, 4, 6) > 0.3
    allowed[..., 0] = True  # every query sees at least one key
    out, w = scaled_dot_product(q, k, v, allowed)
    torch.testing.assert_close(out, torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed), rtol=0, atol=ATOL)
    assert torch.all(w[~allowed.expand_as(w)] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 4), rtol=0, atol=ATOL)


def copy_layer(ours: nn.Module, theirs: nn.Module) -> None:
    for name, module in theirs.named_children():
        if isinstance(module, nn.MultiheadAttention):
            copy_mha(getattr(ours, name), module)
        elif isinstance(module, (nn.Linear, nn.LayerNorm)):
            getattr(ours, name).load_state_dict(module.state_dict())


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_equals_torch(norm_first):
    torch.manual_seed(1)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first)
    randomize(theirs)
    ours = EncoderLayer(16, 4, 32, 0.0, norm_first)
    copy_layer(ours, theirs)
    x = torch.randn(3, 6, 16)
    pad = padding(3, 6, [6, 4, 2])
    torch.testing.assert_close(ours(x, allowed_mask(pad, None)), theirs(x, src_key_padding_mask=pad), rtol=0, atol=ATOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_torch(norm_first):
    torch.manual_seed(2)
    theirs = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first)
    randomize(theirs)
    ours = DecoderLayer(16, 4, 32, 0.0, norm_first)
    copy_layer(ours, theirs)
    y, memory = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    pad = padding(3, 7, [7, 5, 1])
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    expected = theirs(y, memory, tgt_mask=causal, memory_key_padding_mask=pad)
    got = ours(y, memory, allowed_mask(None, 5), allowed_mask(pad, None))
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_the_decoder_cannot_see_the_future(norm_first):
    torch.manual_seed(3)
    model = Transformer(TransformerConfig(src_vocab=20, tgt_vocab=30, dim=16, heads=4, layers=2, ffn=32, dropout=0.0, norm_first=norm_first)).eval()
    src = torch.randint(4, 20, (2, 6))
    src_pad = padding(2, 6, [6, 4])
    tgt = torch.randint(4, 30, (2, 8))
    base = model(src, src_pad, tgt)
    for t in range(7):
        changed = tgt.clone()
        changed[:, t + 1 :] = torch.randint(4, 30, changed[:, t + 1 :].shape)
        out = model(src, src_pad, changed)
        torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], rtol=0, atol=ATOL)  # positions <= t unchanged
        assert not torch.allclose(out[:, t + 1 :], base[:, t + 1 :])  # later positions do change
    # padding in the source changes nothing but the padded positions' own encodings
    noisy = src.clone()
    noisy[1, 4:] = torch.randint(4, 20, (2,))
    torch.testing.assert_close(model(noisy, src_pad, tgt), base, rtol=0, atol=ATOL)


def test_positional_encoding_values():
    pe = PositionalEncoding(8, 50).pe.double()
    pos, i = 7, 2
    assert pe[pos, 2 * i].item() == pytest.approx(torch.sin(torch.tensor(pos / 10000 ** (2 * i / 8))).item(), abs=1e-6)
    assert pe[pos, 2 * i + 1].item() == pytest.approx(torch.cos(torch.tensor(pos / 10000 ** (2 * i / 8))).item(), abs=1e-6)
    with pytest.raises(ValueError, match="longer than the 50 positions"):
        PositionalEncoding(8, 50)(torch.zeros(1, 51, 8))


def test_tied_embeddings_share_one_tensor():
    model = Transformer(TransformerConfig(src_vocab=10, tgt_vocab=12, dim=8, heads=2, layers=1, ffn=16, tie_embeddings=True))
    assert model.out.weight is model.tgt_embed.weight
    untied = Transformer(TransformerConfig(src_vocab=10, tgt_vocab=12, dim=8, heads=2, layers=1, ffn=16, tie_embeddings=False))
    assert untied.out.weight is not untied.tgt_embed.weight


def test_additive_and_dot_attention_by_hand():
    torch.manual_seed(4)
    query, keys = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    pad = padding(2, 5, [5, 2])
    add = AdditiveAttention(4, 4, 6)
    context, w = add(query, keys, pad)
    for b in range(2):
        for t in range(3):
            e = torch.stack([add.v(torch.tanh(add.w_q(query[b, t]) + add.w_k(keys[b, j])))[0] for j in range(5)])
            e[pad[b]] = float("-inf")
            expected = torch.softmax(e, 0)
            torch.testing.assert_close(w[b, t], expected, rtol=0, atol=ATOL)
            torch.testing.assert_close(context[b, t], expected @ keys[b], rtol=0, atol=ATOL)
    context, w = DotAttention()(query, keys, pad)
    expected = torch.cat([torch.softmax(keys[1, :2] @ query[1, 0], 0), torch.zeros(3)])  # padded keys get no weight
    torch.testing.assert_close(w[1, 0], expected, rtol=0, atol=ATOL)
    torch.testing.assert_close(context[1, 0], expected @ keys[1], rtol=0, atol=ATOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoding_with_the_key_value_cache_equals_decoding_the_whole_prefix(norm_first):
    # the cached step's logits at every position are the full decoder's, and reordering the
    # state's first axis (as beam search does) reorders the caches with it
    torch.manual_seed(4)
    model = Transformer(TransformerConfig(src_vocab=20, tgt_vocab=30, dim=16, heads=4, layers=3, ffn=32, dropout=0.0, norm_first=norm_first)).eval()
    src = torch.randint(4, 20, (3, 7))
    src_pad = padding(3, 7, [7, 5, 2])
    src = src.masked_fill(src_pad, 0)
    tokens = torch.randint(4, 30, (3, 9))
    with torch.no_grad():
        memory = model.encode(src, src_pad)
        state = model.start(src, src_pad)
        prefix = torch.full((3, 1), 2)  # <s>
        token = None
        for t in range(9):
            logits, state = model.step(state, token)
            full = model.out(model.decode(memory, src_pad, prefix)[:, -1])
            torch.testing.assert_close(logits, full, rtol=0, atol=ATOL)
            order = torch.tensor([2, 0, 1]) if t % 3 == 2 else torch.arange(3)  # a beam reordering now and then
            state = tuple(s[order] for s in state)
            memory, src_pad, prefix, tokens = memory[order], src_pad[order], prefix[order], tokens[order]
            token = tokens[:, t]
            prefix = torch.cat([prefix, token[:, None]], dim=1)
        assert state[-1].shape[1] == 9  # one cached position a step
