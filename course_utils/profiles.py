"""Three profiles, one code path: ``smoke`` (offline, tiny models), ``cpu`` and ``gpu``.

A profile changes names and sizes, never the code a lesson runs. :func:`setup` is the one call
each notebook makes first:

>>> import course_utils
>>> cfg = course_utils.setup(profile="smoke", verbose=False)
>>> cfg.profile, cfg.precision, cfg.device
('smoke', 'fp32', 'cpu')
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata

from course_utils import models

PROFILES: tuple[str, ...] = ("smoke", "cpu", "gpu")

# Supported range of the libraries the lessons teach: the floor is the version CI tests (the
# lock file's), the ceiling the next major release, whose API changes are unknown.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {
    "transformers": ("5.24.0", "6"),
    "datasets": ("5.2.0", "6"),
}

HUB_HOST = "huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ProfileSizes:
    """What a profile changes: model names and how much data and training the lessons use."""

    encoder: str  # masked-LM encoder for classification (lessons 02 to 04)
    causal_lm: str  # generative model (lessons 04 and 05)
    max_train_examples: int | None  # None: the whole bundled training split
    max_eval_examples: int | None  # validation examples; the test split is always whole
    lm_epochs: int  # language-model and instruction fine-tuning
    train_batch_size: int
    eval_batch_size: int
    max_length: int  # tokens per example
    seeds: int  # seeds per comparison, where a comparison is cheap
    # Classification recipes (learning rate, epochs, early stopping) live in course_utils.recipes,
    # one per method, chosen for the model rather than the profile.


SIZES: dict[str, ProfileSizes] = {
    # The smoke profile validates on the whole validation split: early stopping on 60 examples
    # would stop on noise.
    "smoke": ProfileSizes(models.TINY_ENCODER, models.TINY_GPT2, 160, None, 2, 16, 128, 128, 1),
    "cpu": ProfileSizes("distilbert-base-uncased", "gpt2", None, None, 1, 16, 64, 128, 2),
    "gpu": ProfileSizes("distilbert-base-uncased", "gpt2", None, None, 3, 32, 128, 256, 3),
}


@dataclass(frozen=True)
class CourseConfig:
    """What :func:`setup` decided, printed as one short screen."""

    profile: str
    reason: str
    sizes: ProfileSizes
    device: str
    precision: str
    threads: int
    seed: int
    versions: dict[str, str] = field(default_factory=dict)
    version_problems: tuple[str, ...] = ()
    # The roles ("encoder", "causal_lm") whose model the learner chose instead of the profile's.
    own_models: tuple[str, ...] = ()

    @property
    def encoder(self) -> str:
        return self.sizes.encoder

    @property
    def causal_lm(self) -> str:
        return self.sizes.causal_lm

    @property
    def models(self) -> dict[str, str]:
        """The models this run uses, by role, as recorded with its results (see :func:`describe_model`)."""
        return {"encoder": describe_model(self.encoder), "causal_lm": describe_model(self.causal_lm)}

    @property
    def precision_args(self) -> dict[str, bool]:
        """Keyword arguments for ``TrainingArguments``: ``{"bf16": True}``, ``{"fp16": True}`` or ``{}``."""
        return {"bf16": True} if self.precision == "bf16" else {"fp16": True} if self.precision == "fp16" else {}

    @property
    def ready(self) -> bool:
        return not self.version_problems

    def summary(self) -> str:
        s = self.sizes
        train = "all" if s.max_train_examples is None else f"{s.max_train_examples}"
        lines = [
            f"profile    {self.profile}  ({self.reason})",
            f"device     {self.device}, precision {self.precision}, {self.threads} torch thread(s), seed {self.seed}",
            f"encoder    {describe_model(s.encoder)}{_yours('encoder', self.own_models)}",
            f"causal LM  {describe_model(s.causal_lm)}{_yours('causal_lm', self.own_models)}",
            f"sizes      classification train examples: {train}, batch {s.train_batch_size} "
            f"(eval {s.eval_batch_size}), max_length {s.max_length}; default LM epochs {s.lm_epochs} "
            "(lessons 04 and 05 set their own)",
            "recipes    " + _recipes_line(self),
            "versions   " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
        ]
        lines += [f"WARNING    {p}" for p in self.version_problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _recipes_line(cfg) -> str:
    from course_utils.recipes import METHODS, classifier_recipe, uses_tiny_recipe

    parts = [f"{m} lr {classifier_recipe(cfg, m).learning_rate:g}" for m in METHODS]
    which = "tiny-model" if uses_tiny_recipe(cfg) else "real-model"
    return f"classifier ({which}): " + ", ".join(parts) + "; each until validation stops improving"


def describe_model(name: str) -> str:
    """A model name as the setup summary and the recorded results give it: the bundled tiny models
    by their folder's name, a local folder by its full path, a Hub id as it is.

    >>> describe_model(models.TINY_ENCODER), describe_model("gpt2")
    ('tiny-distilbert (bundled, offline)', 'gpt2 (Hub)')
    """
    if os.path.dirname(os.path.abspath(name)) == os.path.abspath(models.TINY_MODELS_DIR):
        return f"{os.path.basename(name)} (bundled, offline)"
    if models.is_local(name):
        return f"{os.path.abspath(os.path.expanduser(name))} (local folder)"
    return f"{name} (Hub)"


def _yours(role: str, own: tuple[str, ...]) -> str:
    return "  <- yours" if role in own else ""  # the recipes line says which recipes apply


MODEL_ROLES = {"encoder": "COURSE_ENCODER", "causal_lm": "COURSE_CAUSAL_LM"}


def choose_model(role: str, given: str | None, profile: str, env: Mapping[str, str] | None = None) -> str:
    """The model a lesson uses for ``role`` (``"encoder"`` or ``"causal_lm"``): ``given`` (the
    lesson's ``ENCODER`` / ``CAUSAL_LM`` parameter), else the environment variable ``COURSE_ENCODER``
    / ``COURSE_CAUSAL_LM``, else the profile's. A Hub id or a local folder; a folder must hold a
    ``config.json``, and a Hub id needs the network, which the smoke profile never uses.

    >>> choose_model("encoder", None, "cpu", env={})
    'distilbert-base-uncased'
    >>> choose_model("causal_lm", None, "cpu", env={"COURSE_CAUSAL_LM": "gpt2-medium"})
    'gpt2-medium'
    """
    if role not in MODEL_ROLES:
        raise ValueError(f"Unknown model role {role!r}; the course's roles are {sorted(MODEL_ROLES)}.")
    env = os.environ if env is None else env
    variable = MODEL_ROLES[role]
    if given is None:
        given = env.get(variable, "").strip() or None
        source = f"{variable}={given!r}"
    else:
        source = f"{role}={given!r}"
    if given is None:
        return getattr(SIZES[profile], role)
    if not isinstance(given, str) or not given.strip():
        raise ValueError(f"{source}: a model must be a Hub id (such as 'bert-base-uncased') or the path of a "
                         "folder saved with save_pretrained; None uses the profile's model.")
    given = given.strip()
    if models.is_local(given):
        folder = os.path.abspath(os.path.expanduser(given))
        if not os.path.isfile(os.path.join(folder, "config.json")):
            raise FileNotFoundError(
                f"{source}: no config.json in {folder}. Point it at a folder written by "
                "model.save_pretrained(folder) and tokenizer.save_pretrained(folder), or give a Hub id.")
        return folder
    if profile == "smoke":
        raise ValueError(
            f"{source} names a Hub model, but the smoke profile is offline and never downloads. Use the cpu or "
            "gpu profile on a machine that reaches the Hub (PROFILE = 'cpu'), or a local folder of the model.")
    return given


def choose_models(profile: str, encoder: str | None = None, causal_lm: str | None = None,
                  env: Mapping[str, str] | None = None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Both models of a run (:func:`choose_model` for each role) and the roles where the learner chose
    another model than the profile's.

    >>> choose_models("cpu", env={"COURSE_CAUSAL_LM": "gpt2-medium"})
    ({'encoder': 'distilbert-base-uncased', 'causal_lm': 'gpt2-medium'}, ('causal_lm',))
    """
    names = {role: choose_model(role, given, profile, env)
             for role, given in (("encoder", encoder), ("causal_lm", causal_lm))}
    return names, tuple(role for role, name in names.items() if name != getattr(SIZES[profile], role))


PRECISIONS = ("fp32", "fp16", "bf16")


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


def hub_reachable(host: str = HUB_HOST, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to the model Hub opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def select_profile(
    env: Mapping[str, str] | None = None,
    *,
    has_cuda: bool | None = None,
    online: bool | None = None,
) -> tuple[str, str]:
    """The profile to use and why, as ``(profile, reason)``.

    ``COURSE_PROFILE`` wins; otherwise CI or no network means ``smoke``, no CUDA means ``cpu``
    and CUDA means ``gpu``. The probes are passed in by tests, detected otherwise.

    >>> select_profile({"COURSE_PROFILE": "cpu"})
    ('cpu', 'COURSE_PROFILE=cpu')
    >>> select_profile({"CI": "true"})
    ('smoke', 'CI is set: offline tiny models')
    >>> select_profile({}, has_cuda=False, online=True)
    ('cpu', 'no CUDA device; the Hub is reachable')
    """
    env = os.environ if env is None else env
    chosen = env.get("COURSE_PROFILE", "").strip().lower()
    if chosen:
        if chosen not in PROFILES:
            raise ValueError(
                f"COURSE_PROFILE={env['COURSE_PROFILE']!r} is not a profile. "
                f"Valid values: {', '.join(PROFILES)} (or unset it to choose automatically)."
            )
        return chosen, f"COURSE_PROFILE={chosen}"
    if env.get("CI", "").strip():
        return "smoke", "CI is set: offline tiny models"
    if _flag(env, "HF_HUB_OFFLINE") or _flag(env, "TRANSFORMERS_OFFLINE"):
        return "smoke", "HF_HUB_OFFLINE is set: offline tiny models"
    if online is None:
        online = hub_reachable()
    if not online:
        return "smoke", f"{HUB_HOST} cannot be reached: offline tiny models"
    if has_cuda is None:
        has_cuda = cuda_available()
    if has_cuda:
        return "gpu", "a CUDA device is available"
    return "cpu", "no CUDA device; the Hub is reachable"


def choose_precision(device: str, capability: tuple[int, int] | None = None) -> str:
    """Training precision for a device: bf16 from compute capability 8 (Ampere) on, fp16 on
    older CUDA cards such as Colab's T4 (7.5), fp32 on CPU.

    >>> choose_precision("cuda", (8, 0)), choose_precision("cuda", (7, 5)), choose_precision("cpu")
    ('bf16', 'fp16', 'fp32')
    """
    if device == "cpu" or device == "mps":
        return "fp32"
    if device != "cuda":
        raise ValueError(f"Unknown device {device!r}: expected 'cpu', 'cuda' or 'mps'.")
    if capability is None:
        import torch

        capability = torch.cuda.get_device_capability()
    return "bf16" if capability[0] >= 8 else "fp16"


def precision_override(device: str, env: Mapping[str, str] | None = None,
                       capability: tuple[int, int] | None = None) -> str | None:
    """``COURSE_PRECISION`` (fp32, fp16 or bf16) if set and usable on ``device``, else None.

    A recent GPU would train in bf16; ``COURSE_PRECISION=fp16`` makes it take the fp16 path (with
    loss scaling) that Colab's T4 takes, so that path can be tested on the machine at hand.

    >>> precision_override("cuda", {"COURSE_PRECISION": "fp16"}, capability=(9, 0))
    'fp16'
    >>> precision_override("cpu", {}) is None
    True
    """
    env = os.environ if env is None else env
    value = env.get("COURSE_PRECISION", "").strip().lower()
    if not value:
        return None
    if value not in PRECISIONS:
        raise ValueError(f"COURSE_PRECISION={value!r} is not a precision; use one of {', '.join(PRECISIONS)} "
                         "(or unset it to choose from the device).")
    if device != "cuda" and value != "fp32":
        raise ValueError(f"COURSE_PRECISION={value} needs a CUDA GPU; on {device} the course trains in fp32. "
                         "Unset COURSE_PRECISION or use the gpu profile on a GPU.")
    if value == "bf16":
        if capability is None:
            import torch

            capability = torch.cuda.get_device_capability()
        if capability[0] < 8:
            raise ValueError(f"COURSE_PRECISION=bf16 needs compute capability 8.0 or newer (this GPU has "
                             f"{capability[0]}.{capability[1]}): use fp16.")
    return value


def choose_thread_count(env: Mapping[str, str] | None = None, cpus: int | None = None) -> int:
    """Torch threads for this process.

    ``COURSE_THREADS`` wins. Under pytest-xdist, and under a launcher that starts several
    training processes on one machine, the machine's CPUs are shared between them, because
    oversubscribed threads slow training many times over (one training step ran 40x slower on a
    2-core machine).

    >>> choose_thread_count({"PYTEST_XDIST_WORKER_COUNT": "2"}, cpus=2)
    1
    >>> choose_thread_count({}, cpus=8)
    8
    >>> choose_thread_count({"LOCAL_WORLD_SIZE": "2"}, cpus=8)  # torchrun --nproc_per_node 2
    4
    """
    env = os.environ if env is None else env
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if env.get("COURSE_THREADS", "").strip():
        value = env["COURSE_THREADS"].strip()
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"COURSE_THREADS={value!r} must be a whole number of at least 1.")
        return int(value)
    sharing = 1
    # test workers, and the processes a launcher (torchrun, accelerate launch) starts on this machine
    for variable in ("PYTEST_XDIST_WORKER_COUNT", "LOCAL_WORLD_SIZE"):
        value = env.get(variable, "").strip()
        if value.isdigit() and int(value) > 1:
            sharing *= int(value)
    return max(1, cpus // sharing)


def _parse(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if not piece.isdigit():  # 5.25.0rc1 or 2.13.0+cpu: stop after the number
            break
    return tuple(parts)


def check_versions(installed: Mapping[str, str | None] | None = None) -> list[str]:
    """Problems with the installed library versions, each with the command that fixes it.

    >>> check_versions({"transformers": "5.24.0", "datasets": "5.2.0"})
    []
    >>> check_versions({"transformers": "4.57.1", "datasets": "5.2.0"})[0]
    "transformers 4.57.1 is older than the course supports (>=5.24.0): pip install -U 'transformers>=5.24.0'"
    """
    if installed is None:
        installed = {name: _installed(name) for name in SUPPORTED_VERSIONS}
    problems = []
    for name, (floor, ceiling) in SUPPORTED_VERSIONS.items():
        version = installed.get(name)
        if version is None:
            problems.append(f"{name} is not installed: pip install '{name}>={floor}'")
        elif _parse(version) < _parse(floor):
            problems.append(
                f"{name} {version} is older than the course supports (>={floor}): "
                f"pip install -U '{name}>={floor}'"
            )
        elif _parse(version) >= _parse(ceiling):
            problems.append(
                f"{name} {version} is a new major release the course has not been tested with "
                f"(supported: >={floor},<{ceiling}): pip install '{name}>={floor},<{ceiling}'"
            )
    return problems


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup(profile: str | None = None, *, encoder: str | None = None, causal_lm: str | None = None,
          seed: int = 0, verbose: bool = True, **overrides) -> CourseConfig:
    """Prepare this process for a lesson and return its :class:`CourseConfig`.

    Picks the profile (``profile`` argument, else :func:`select_profile`), seeds Python, NumPy
    and torch, sets torch's thread count, picks device and precision (``COURSE_PRECISION``
    overrides it on a GPU), and checks the installed ``transformers`` and ``datasets`` against the
    supported range. ``encoder`` and ``causal_lm`` bring your own model (a Hub id or a local
    folder; None: ``COURSE_ENCODER`` / ``COURSE_CAUSAL_LM``, else the profile's, see
    :func:`choose_model`). ``overrides`` replace fields of the profile's :class:`ProfileSizes`
    (for example ``max_length=256``).
    """
    import torch

    if profile is not None:
        chosen, reason = select_profile({"COURSE_PROFILE": profile})
        reason = f"setup(profile={chosen!r})"
    else:
        chosen, reason = select_profile()
    unknown = set(overrides) - set(ProfileSizes.__dataclass_fields__)
    if unknown:
        raise TypeError(
            f"Unknown setting(s) {sorted(unknown)}; a profile has: "
            f"{', '.join(ProfileSizes.__dataclass_fields__)}."
        )
    chosen_models, own = choose_models(chosen, encoder, causal_lm)
    sizes = replace(SIZES[chosen], **chosen_models, **overrides)
    if chosen == "gpu" and not torch.cuda.is_available():
        raise RuntimeError(
            "The gpu profile needs a CUDA device and torch sees none. On Colab: Runtime > "
            "Change runtime type > T4 GPU. Elsewhere set COURSE_PROFILE=cpu (or smoke offline)."
        )
    if chosen == "smoke":
        # Everything is bundled: make sure no library tries the network (it would only hang).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    # "Loading weights" bars only add noise to a lesson's output; download bars (huggingface_hub)
    # and Trainer's progress bar are separate and stay on.
    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()  # "Map: 100%" on a few hundred short texts is noise too
    threads = choose_thread_count()
    torch.set_num_threads(threads)
    seed_everything(seed)
    device = "cuda" if chosen == "gpu" else "cpu"
    config = CourseConfig(
        profile=chosen,
        reason=reason,
        sizes=sizes,
        device=device,
        precision=precision_override(device) or choose_precision(device),
        threads=threads,
        seed=seed,
        versions={
            "python": ".".join(map(str, __import__("sys").version_info[:3])),
            "torch": torch.__version__,
            "transformers": _installed("transformers") or "missing",
            "datasets": _installed("datasets") or "missing",
        },
        version_problems=tuple(check_versions()),
        own_models=own,
    )
    if verbose:
        print(config.summary())
    return config
