"""Pure machine-learning core of playlist2vec (no web or database imports).

Modules:

* :mod:`recsys.ml.settings` -- :class:`TrainSettings` (YAML + ``key=value`` overrides).
* :mod:`recsys.ml.corpus` -- restartable playlist corpora and ``corpus_file`` writer.
* :mod:`recsys.ml.train` -- :func:`train` and ``.npy`` + JSON vector artifacts.
* :mod:`recsys.ml.baselines` -- popularity / transition / co-occurrence recommenders.
* :mod:`recsys.ml.scoring` -- the :class:`Recommender` interface and word2vec scorers.
* :mod:`recsys.ml.evaluate` -- seeded splits and vectorised offline metrics.
* :mod:`recsys.ml.tune` -- hyper-parameter search on a validation split.

Nothing is imported eagerly here so that importing the package stays cheap.
"""

__all__ = ["baselines", "corpus", "evaluate", "scoring", "settings", "train", "tune"]
