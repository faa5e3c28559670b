"""Spoken digits at 8 kHz: the Free Spoken Digit Dataset from its WAV files, or generated tones.

FSDD (Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset): 3,000 recordings,
6 speakers x 10 digits x 50, named ``{digit}_{speaker}_{index}.wav``, 8 kHz mono 16-bit PCM,
trimmed to near-minimal silence. Its convention, kept here: indices 0-4 of every speaker and
digit are the test recordings. Pass the folder that holds ``recordings/`` (or the recordings
themselves), e.g. ``$DEEPKATA_DATA/fsdd``.

The generated tones are the embedded default, a stand-in with the same structure: each "digit"
is a short melody of two notes whose pitches the digit sets, each "speaker" shifts the pitch
and colours the timbre (the weights of the harmonics), every recording varies its length,
loudness and vibrato, and a little noise is added. Deterministic by seed.

Samples are float32 in [-1, 1].
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepkata.core.errors import UserError

__all__ = ["RATE", "Recording", "SpokenDigits", "load_fsdd", "make_tones", "read_wav", "write_wav"]

RATE = 8000
NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)\.wav$")


@dataclass(frozen=True)
class Recording:
    samples: np.ndarray  # (T,) float32 in [-1, 1]
    digit: int
    speaker: str
    index: int


@dataclass(frozen=True)
class SpokenDigits:
    recordings: list[Recording]
    speakers: tuple[str, ...]  # sorted
    source: str

    def of(self, speaker: str) -> list[Recording]:
        return [r for r in self.recordings if r.speaker == speaker]


def read_wav(path: Path) -> np.ndarray:
    """A mono 16-bit PCM WAV at 8 kHz as float32 samples in [-1, 1]; anything else is a one-line error."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(frames)
    except (wave.Error, EOFError) as e:
        raise UserError(f"{path}: not a readable WAV file ({e}); expected 8 kHz mono 16-bit PCM") from None
    if (channels, width, rate) != (1, 2, RATE):
        raise UserError(f"{path}: {channels} channel(s), {8 * width}-bit, {rate} Hz; expected 1 channel, 16-bit, {RATE} Hz")
    if len(data) < 2 * frames or frames == 0:
        raise UserError(f"{path}: {len(data)} bytes of samples for {frames} frames; the file is truncated or empty")
    return (np.frombuffer(data[: 2 * frames], dtype="<i2").astype(np.float32) / 32768.0).copy()


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Samples in [-1, 1] (clipped) as a mono 16-bit PCM WAV at 8 kHz."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def load_fsdd(folder: Path) -> SpokenDigits:
    """Every ``{digit}_{speaker}_{index}.wav`` under ``folder`` or ``folder/recordings``."""
    folder = Path(folder)
    where = folder / "recordings" if (folder / "recordings").is_dir() else folder
    if not where.is_dir():
        raise UserError(f"{folder}: no such folder; expected the FSDD folder that holds recordings/")
    files = sorted(p for p in where.iterdir() if p.suffix == ".wav")
    if not files:
        raise UserError(f"{where}: no .wav files; expected FSDD's {{digit}}_{{speaker}}_{{index}}.wav recordings")
    recordings = []
    for path in files:
        match = NAME.match(path.name)
        if match is None:
            raise UserError(f"{path}: the name does not read {{digit}}_{{speaker}}_{{index}}.wav")
        recordings.append(Recording(read_wav(path), int(match[1]), match[2], int(match[3])))
    return SpokenDigits(recordings, tuple(sorted({r.speaker for r in recordings})), f"FSDD ({where}, {len(recordings):,} recordings)")


def make_tones(*, speakers: int = 5, per_digit: int = 12, seed: int = 0) -> SpokenDigits:
    """Generated "spoken digits": ``speakers`` x 10 digits x ``per_digit`` recordings of 0.25-0.4 s."""
    rng = np.random.default_rng(seed)
    names = tuple(f"tone{s}" for s in range(speakers))
    # each digit: two notes (semitones above 220 Hz); each speaker: a pitch shift and harmonic weights
    notes = [(d * 2 % 12, (d * 5 + 3) % 14) for d in range(10)]
    shifts = rng.uniform(-3, 3, speakers)
    timbres = rng.dirichlet(np.ones(4) * 2, speakers)
    recordings = []
    for s, name in enumerate(names):
        for d in range(10):
            for i in range(per_digit):
                length = int(RATE * rng.uniform(0.25, 0.4))
                t = np.arange(length) / RATE
                half = length // 2
                semitones = np.where(np.arange(length) < half, notes[d][0], notes[d][1]) + shifts[s]
                f0 = 220.0 * 2 ** (semitones / 12) * (1 + 0.01 * np.sin(2 * np.pi * rng.uniform(4, 7) * t))  # vibrato
                phase = 2 * np.pi * np.cumsum(f0) / RATE
                wave_ = sum(w * np.sin((k + 1) * phase) for k, w in enumerate(timbres[s]))
                envelope = np.minimum(1.0, t / 0.02) * np.minimum(1.0, (t[-1] - t) / 0.05 + 1e-3)
                x = rng.uniform(0.3, 0.8) * envelope * wave_ + rng.normal(0, 0.003, length)
                recordings.append(Recording(np.clip(x, -1, 1).astype(np.float32), d, name, i))
    return SpokenDigits(recordings, names, f"generated tones ({speakers} speakers x 10 digits x {per_digit}, seed {seed})")
