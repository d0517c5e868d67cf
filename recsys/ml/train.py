"""Train word2vec song vectors and save/load them without pickle."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsys.ml.corpus import Batches, CorpusFile, PlaylistCorpus, as_corpus, export_corpus
from recsys.ml.settings import TrainSettings

log = logging.getLogger("recsys.ml")

ProgressCallback = Callable[[int, int, float], None]
"""Called after every epoch with ``(epoch_done, epochs_total, elapsed_s)``."""

VECTORS_FORMAT = "playlist2vec-vectors/1"


@dataclass
class TrainedModel:
    """Song vectors in row order.

    Attributes:
        song_ids: int64 array; row ``i`` of both matrices belongs to ``song_ids[i]``.
        in_vectors: float32 ``(n, d)`` input ("word") vectors -- used for ``similar``.
        out_vectors: float32 ``(n, d)`` output/context vectors (gensim ``syn1neg``).
        counts: int64 training occurrence count per row.
        settings: the settings used.
        stats: ``duration_s``, ``words_per_s``, ``epochs``, ``vocab_size``, ...
    """

    song_ids: np.ndarray
    in_vectors: np.ndarray
    out_vectors: np.ndarray
    counts: np.ndarray
    settings: TrainSettings
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._row = {int(s): i for i, s in enumerate(self.song_ids)}

    def row_of(self, song_id: int) -> int | None:
        """Matrix row of a song id, or None if the song was not in training."""
        return self._row.get(int(song_id))

    def __len__(self) -> int:
        return len(self.song_ids)


def _make_callback(epochs: int, progress: ProgressCallback | None, t0: float) -> Any:
    from gensim.models.callbacks import CallbackAny2Vec

    class _EpochLogger(CallbackAny2Vec):
        def __init__(self) -> None:
            self.epoch = 0

        def on_epoch_end(self, model: Any) -> None:
            self.epoch += 1
            elapsed = time.perf_counter() - t0
            log.info("word2vec epoch %d/%d done (%.1fs)", self.epoch, epochs, elapsed)
            if progress is not None:
                progress(self.epoch, epochs, elapsed)

    return _EpochLogger()


def _with_vocab(model: Any, settings: TrainSettings, **source: Any) -> Any:
    """Scan the vocabulary; a clear ``ValueError`` when no song reaches ``min_count``."""
    model.build_vocab(**source)
    if len(model.wv.index_to_key) == 0:
        raise ValueError(f"empty vocabulary: no song occurs at least min_count="
                         f"{settings.min_count} times in playlists of >= 2 songs")
    return model


def _non_empty(written: CorpusFile) -> CorpusFile:
    """The written corpus; a ``ValueError`` when it holds no playlist long enough to train on."""
    if written.playlists == 0:
        raise ValueError(f"corpus has no playlist with >= {written.min_length} songs")
    return written


def _train_file(kwargs: dict[str, Any], settings: TrainSettings, path: str
                ) -> tuple[Any, float]:
    """Vocabulary scan and training from a ``corpus_file``; the model and its training start."""
    from gensim.models import Word2Vec

    model = _with_vocab(Word2Vec(**kwargs), settings, corpus_file=path)
    t_train = time.perf_counter()
    model.train(corpus_file=path, total_words=model.corpus_total_words,
                epochs=settings.epochs, callbacks=kwargs["callbacks"])
    return model, t_train


def train(corpus: PlaylistCorpus | Sequence[Sequence[int]] | Batches | CorpusFile,
          settings: TrainSettings | None = None,
          progress_callback: ProgressCallback | None = None,
          tmp_dir: str | os.PathLike | None = None) -> TrainedModel:
    """Train word2vec on playlists.

    Args:
        corpus: a :class:`PlaylistCorpus`, a sequence of int playlists, a
            zero-argument batch callable (see :mod:`recsys.ml.corpus`), or a
            :class:`CorpusFile` already written (trained from as it is: nothing else is read).
        settings: hyper-parameters; defaults to :class:`TrainSettings()`.
        progress_callback: optional ``f(epoch_done, epochs_total, elapsed_s)``.
        tmp_dir: where the temporary corpus file goes (default: the system's temp dir); the
            job layer uses the model store, whose clean-up removes what a killed run left.

    With ``settings.use_corpus_file`` the corpus is first streamed once into a
    temporary text file and trained through gensim's ``corpus_file`` path, which
    uses all worker threads without a Python producer bottleneck.
    """
    from gensim.models import Word2Vec

    settings = settings or TrainSettings()
    if isinstance(corpus, CorpusFile):
        written, corpus = _non_empty(corpus), corpus.corpus()
    else:
        written, corpus = None, as_corpus(corpus)
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = dict(
        vector_size=settings.vector_size, window=settings.window, negative=settings.negative,
        ns_exponent=settings.ns_exponent, sample=settings.sample, epochs=settings.epochs,
        sg=settings.sg, hs=0, min_count=settings.min_count, alpha=settings.alpha,
        min_alpha=settings.min_alpha, seed=settings.seed, workers=settings.workers,
        callbacks=[_make_callback(settings.epochs, progress_callback, t0)],
    )
    log.info("training word2vec: %s", settings.to_dict())
    if settings.use_corpus_file and written is not None:
        model, t_train = _train_file(kwargs, settings, str(written.path))
    elif settings.use_corpus_file:
        with tempfile.TemporaryDirectory(prefix=".tmp-corpus-", dir=tmp_dir) as tmp:
            written = _non_empty(export_corpus(corpus, os.path.join(tmp, "corpus.txt"),
                                               min_length=corpus.min_length))
            model, t_train = _train_file(kwargs, settings, str(written.path))
    else:
        model = _with_vocab(Word2Vec(**kwargs), settings, corpus_iterable=corpus)
        t_train = time.perf_counter()
        model.train(corpus_iterable=corpus, total_examples=model.corpus_count,
                    epochs=settings.epochs, callbacks=kwargs["callbacks"])
    t1 = time.perf_counter()
    wv = model.wv
    song_ids = np.fromiter((int(k) for k in wv.index_to_key), dtype=np.int64,
                           count=len(wv.index_to_key))
    counts = np.array([wv.get_vecattr(k, "count") for k in wv.index_to_key], dtype=np.int64)
    words = int(counts.sum()) * settings.epochs
    stats = {
        "duration_s": round(t1 - t0, 3),
        "train_s": round(t1 - t_train, 3),
        "words_per_s": round(words / max(t1 - t_train, 1e-9), 1),
        "epochs": settings.epochs,
        "vocab_size": len(song_ids),
        "corpus_words": int(counts.sum()),
    }
    log.info("word2vec done: %s", stats)
    return TrainedModel(
        song_ids=song_ids,
        in_vectors=np.ascontiguousarray(wv.vectors, dtype=np.float32),
        out_vectors=np.ascontiguousarray(model.syn1neg, dtype=np.float32),
        counts=counts, settings=settings, stats=stats,
    )


def save_vectors(model: TrainedModel, directory: str | os.PathLike[str]) -> Path:
    """Write ``song_ids.npy``, ``in_vectors.npy``, ``out_vectors.npy``, ``counts.npy``
    and ``vectors.json`` (format tag, settings, stats) into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "song_ids.npy", model.song_ids, allow_pickle=False)
    np.save(out / "in_vectors.npy", model.in_vectors, allow_pickle=False)
    np.save(out / "out_vectors.npy", model.out_vectors, allow_pickle=False)
    np.save(out / "counts.npy", model.counts, allow_pickle=False)
    meta = {"format": VECTORS_FORMAT, "settings": model.settings.to_dict(),
            "stats": model.stats, "n_songs": len(model),
            "dim": int(model.in_vectors.shape[1])}
    (out / "vectors.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    return out


def load_vectors(directory: str | os.PathLike[str]) -> TrainedModel:
    """Inverse of :func:`save_vectors` (never unpickles)."""
    src = Path(directory)
    meta = json.loads((src / "vectors.json").read_text())
    if meta.get("format") != VECTORS_FORMAT:
        raise ValueError(f"{src}: unsupported vectors format {meta.get('format')!r}")

    def _load(name: str) -> np.ndarray:
        return np.load(src / name, allow_pickle=False)

    model = TrainedModel(
        song_ids=_load("song_ids.npy").astype(np.int64),
        in_vectors=_load("in_vectors.npy").astype(np.float32, copy=False),
        out_vectors=_load("out_vectors.npy").astype(np.float32, copy=False),
        counts=_load("counts.npy").astype(np.int64),
        settings=TrainSettings.from_dict(meta["settings"]), stats=meta.get("stats", {}),
    )
    if model.in_vectors.shape != model.out_vectors.shape or \
            model.in_vectors.shape[0] != len(model.song_ids):
        raise ValueError(f"{src}: inconsistent array shapes")
    return model
