"""What is built in: the topic packages whose katas register themselves, and task commands.

The platform core never imports a topic; :func:`deepkata.core.registry.load_katas` imports
``KATA_MODULES``, then any plugin that declares a ``deepkata.katas`` entry point;
:func:`deepkata.models.load_models` imports ``MODEL_MODULES`` and ``deepkata.models`` plugins; and
:mod:`deepkata.cli` adds each of ``COMMANDS`` (name, "module:function") as a subcommand.
"""

KATA_MODULES: tuple[str, ...] = (
    "deepkata.rnn.katas",
    "deepkata.timeseries.katas",
    "deepkata.nlp.katas",
    "deepkata.rl.katas",
    "deepkata.go.katas",
    "deepkata.basics.katas",
    "deepkata.vision.katas",
    "deepkata.detection.katas",
    "deepkata.generative.katas",
    "deepkata.words.katas",
)

# modules whose import registers models in deepkata.models (architectures of every topic)
MODEL_MODULES: tuple[str, ...] = (
    "deepkata.models.sequence",
    "deepkata.nlp.transformer",
    "deepkata.nlp.seq2seq",
    "deepkata.rl.policy_gradient",
    "deepkata.vision.resnet",
    "deepkata.vision.densenet",
    "deepkata.vision.mobilenet",
    "deepkata.vision.plain_cnn",
    "deepkata.detection.segnets",
    "deepkata.generative.gan",
    "deepkata.generative.vae",
    "deepkata.generative.wavenet",
    "deepkata.words.word2vec",
    "deepkata.words.masked",
    "deepkata.go.nets",
)

# task commands beside list/info/run/resume/show/tour: (name, "module:function"); the function
# is a typer command (annotated parameters, a docstring for --help)
COMMANDS: tuple[tuple[str, str], ...] = (
    ("forecast", "deepkata.timeseries.commands:forecast"),
    ("translate", "deepkata.nlp.commands:translate"),
    ("gtp", "deepkata.go.commands:gtp"),
    ("arena", "deepkata.go.commands:arena"),
    ("go-records", "deepkata.go.commands:go_records"),
    ("coco-eval", "deepkata.detection.commands:coco_eval"),
    ("words", "deepkata.words.commands:words"),
)
