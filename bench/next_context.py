"""Research: session-based next-song protocol (context = the last L songs played) on yes_big.

Usage::

    .venv/bin/python bench/next_context.py [--seeds 0 1 2] [--chunk 1000]
        [--out var/bench/next_context.json] [--cache var/bench/next_context]

Protocol.  For every transition ``s_i -> s_{i+1}`` of a held-out playlist the query is the
prefix ``s_1..s_i``; a method sees the last ``L`` songs of it, the j-th most recent (j = 0 is
``s_i``) weighted ``decay**j`` (unknown songs weigh 0).  The target counts as a miss if it is
unknown or no song of the window is known.  Ranks are pessimistic under ties (every other
candidate with an equal score ranks first); count methods get the usual popularity tie-break.
Three candidate-exclusion rules, the same for every method: ``last`` (the last song only, as
in the single-seed protocol), ``last10`` (the last 10 songs played), ``prefix`` (every song
played so far).  A target inside the excluded set is a miss.

Per seed: split 70/10/20 with :func:`recsys.ml.evaluate.split_train_val_test`; every
configuration is scored on validation (counts and word2vec fitted on train); each method's
best configuration per exclusion rule (by validation HR@10) is then scored on test (counts and
word2vec fitted on train+validation).  Word2vec = ``data/train.yaml`` with ``seed=<seed>``,
one model per (seed, phase), cached under ``--cache``.  Methods: popularity; transitions
(raw / log1p, summed over the context with decay; L=1 is the Markov chain); co-occurrence
(raw / log1p, summed likewise); ours = ``in.out + b log1p(cooc)`` summed over the context
("sum", plus ``a log count`` once) or averaged ("mean", the mean of the context in-vectors).
The single-seed protocol (``recsys.ml.evaluate.next_song_metrics``) is re-run on test as a
sanity check.  Writes JSON to ``--out`` and prints markdown tables.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists  # noqa: E402

from recsys.ml.baselines import (  # noqa: E402
    PopularityRecommender,
    cooccurrence_matrix,
    cooccurrence_recommender,
    item_index,
    pair_matrix,
    popularity_counts,
    transition_recommender,
)
from recsys.ml.evaluate import next_song_metrics, split_train_val_test  # noqa: E402
from recsys.ml.scoring import next_recommender  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import load_vectors, save_vectors, train  # noqa: E402

K = 10
LMAX = 50
LS = (1, 3, 10, 20, 50)
DECAYS = (1.0, 0.8)
EXCLUDE = ("last", "last10", "prefix")
POP_W = (0.25, 0.5)
COOC_W = (0.0, 2.0, 4.0)
TRANS_W = (0.5, 1.0)  # "ours+trans": mean variant, a=0.25, b in (2, 4), + t log1p(trans) summed
FAMILIES = ("popularity", "transitions", "cooccurrence", "ours", "ours_mean", "ours_trans")
BASELINE_FAMILIES = ("popularity", "transitions", "cooccurrence")


@dataclass
class Fitted:
    """Counts and vectors fitted on one set of playlists, aligned to ``ids``."""

    ids: np.ndarray
    row: dict[int, int]
    pop: np.ndarray      # float64 counts
    lpop: np.ndarray     # float64 log(max(count, 1))
    tie: np.ndarray      # float64 popularity tie-break for count methods
    mats: dict[str, np.ndarray]   # dense float32 n x n: cooc, lcooc, trans, ltrans
    vin: np.ndarray
    vout: np.ndarray


@dataclass
class Queries:
    """Every transition of the evaluation playlists as (context window, target)."""

    ctx: np.ndarray      # (nq, LMAX) rows of the last LMAX songs, most recent first, -1 unknown
    tgt: np.ndarray      # (nq,) target row, -1 unknown
    last10: np.ndarray   # (nq, LMAX) distinct known rows of the last 10 songs, -1 padded
    prefix: sp.csr_matrix  # (nq, n) binary: songs of the whole prefix


def fit(playlists: list[list[int]], model_dir: Path, settings: TrainSettings) -> Fitted:
    ids = item_index(playlists)
    row = {int(s): i for i, s in enumerate(ids)}
    n = len(ids)
    pop = popularity_counts(playlists, row, n)
    cooc = cooccurrence_matrix(playlists, row, n).toarray().astype(np.float32)
    trans = pair_matrix(playlists, row, n, window=1).toarray().astype(np.float32)
    mats = {"cooc": cooc, "lcooc": np.log1p(cooc), "trans": trans, "ltrans": np.log1p(trans)}
    if (model_dir / "vectors.json").exists():
        model = load_vectors(model_dir)
    else:
        t0 = time.perf_counter()
        model = train(playlists, settings)
        save_vectors(model, model_dir)
        print(f"  trained {model_dir.name} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    pos = np.searchsorted(ids, model.song_ids)
    assert np.array_equal(ids[pos], model.song_ids)
    vin = np.zeros((n, model.in_vectors.shape[1]), np.float32)
    vout = np.zeros_like(vin)
    vin[pos], vout[pos] = model.in_vectors, model.out_vectors
    return Fitted(ids, row, pop, np.log(np.maximum(pop, 1)), 1e-6 * pop / pop.max(), mats,
                  vin, vout)


def make_queries(playlists: list[list[int]], row: dict[int, int], n: int) -> Queries:
    ctx, tgt, last10, pre_ptr, pre_idx = [], [], [], [0], []
    for p in playlists:
        r = [row.get(int(s), -1) for s in p]
        seen: set[int] = set()
        for i in range(1, len(r)):
            if r[i - 1] >= 0:
                seen.add(r[i - 1])
            window = r[max(0, i - LMAX):i][::-1]
            ctx.append(window + [-1] * (LMAX - len(window)))
            uniq = list(dict.fromkeys(x for x in window[:10] if x >= 0))
            last10.append(uniq + [-1] * (LMAX - len(uniq)))
            tgt.append(r[i])
            pre_idx.extend(sorted(seen))
            pre_ptr.append(len(pre_idx))
    nq = len(tgt)
    prefix = sp.csr_matrix((np.ones(len(pre_idx), np.int8), np.asarray(pre_idx, np.int64),
                            np.asarray(pre_ptr, np.int64)), shape=(nq, n))
    return Queries(np.asarray(ctx, np.int64), np.asarray(tgt, np.int64),
                   np.asarray(last10, np.int64), prefix)


def context_matrix(ctx: np.ndarray, n: int, length: int, decay: float) -> sp.csr_matrix:
    """Sparse (queries x n) weights decay**j of the last ``length`` known songs."""
    c = ctx[:, :length]
    w = np.broadcast_to(decay ** np.arange(length), c.shape)
    ok = c >= 0
    rows = np.broadcast_to(np.arange(len(c))[:, None], c.shape)
    return sp.csr_matrix((w[ok], (rows[ok], c[ok])), shape=(len(c), n))


def ranks(scores: np.ndarray, q: Queries, sl: slice, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Pessimistic 1-based rank of the target under each exclusion rule (0 = miss)."""
    nq = scores.shape[0]
    tgt = q.tgt[sl]
    ok = valid & (tgt >= 0)
    t = scores[np.arange(nq), np.maximum(tgt, 0)]
    ge = scores >= t[:, None]
    base = ge.sum(axis=1)  # includes the target itself
    out = {}
    ar = np.arange(nq)[:, None]
    # last: the most recent song
    last = q.ctx[sl, 0]
    sub = np.where(last >= 0, ge[np.arange(nq), np.maximum(last, 0)], False)
    out["last"] = np.where(ok & (last != tgt), base - sub, 0)
    l10 = q.last10[sl]
    sub10 = np.where(l10 >= 0, ge[ar, np.maximum(l10, 0)], False).sum(axis=1)
    in10 = (l10 == tgt[:, None]).any(axis=1)
    out["last10"] = np.where(ok & ~in10, base - sub10, 0)
    pre = q.prefix[sl]
    prow = np.repeat(np.arange(nq), np.diff(pre.indptr))
    subp = np.bincount(prow, weights=ge[prow, pre.indices], minlength=nq).astype(np.int64)
    inp = np.asarray(pre[np.arange(nq), np.maximum(tgt, 0)]).ravel() > 0
    out["prefix"] = np.where(ok & ~inp, base - subp, 0)
    return {k: np.where(v > K, 0, v) for k, v in out.items()}


def method_scores(f: Fitted, qm: sp.csr_matrix, wsum: np.ndarray, length: int,
                  only: set[str] | None = None):
    """Yield (method, config, scores) for one context matrix chunk."""
    def want(name: str) -> bool:
        return only is None or name in only

    comp = {name: np.asarray(qm @ m, dtype=np.float64) for name, m in f.mats.items()
            if any(want(x) for x in _users(name))}
    if want("popularity|raw"):
        yield "popularity", "raw", np.broadcast_to(f.pop, (qm.shape[0], len(f.pop)))
    for fam, raw, lg in (("transitions", "trans", "ltrans"), ("cooccurrence", "cooc", "lcooc")):
        for var, key in (("raw", raw), ("log1p", lg)):
            if want(f"{fam}|{var}"):
                yield fam, var, comp[key] + f.tie
    need_ours = [(v, a, b) for v, a, b in itertools.product(("sum", "mean"), POP_W, COOC_W)
                 if want(f"ours|{v} a={a} b={b}") and not (v == "sum" and length == 1)]
    need_trans = [(b, t) for b, t in itertools.product((2.0, 4.0), TRANS_W)
                  if want(f"ours|mean a=0.25 b={b} t={t}")]
    if not need_ours and not need_trans:
        return
    dot = np.asarray((qm @ f.vin) @ f.vout.T, dtype=np.float64)
    lc = comp["lcooc"]
    inv = 1.0 / np.maximum(wsum, 1e-12)[:, None]
    for var, a, b in need_ours:
        s = dot + b * lc if b else dot.copy()
        if var == "mean":
            s *= inv
        s += a * f.lpop
        yield "ours", f"{var} a={a} b={b}", s
    for b, t in need_trans:
        s = (dot + b * lc + t * comp["ltrans"]) * inv + 0.25 * f.lpop
        yield "ours", f"mean a=0.25 b={b} t={t}", s


def _users(mat: str) -> list[str]:
    if mat == "trans":
        return ["transitions|raw"]
    if mat == "ltrans":
        return ["transitions|log1p"] + [f"ours|mean a=0.25 b={b} t={t}" for b in (2.0, 4.0)
                                        for t in TRANS_W]
    if mat == "cooc":
        return ["cooccurrence|raw"]
    return (["cooccurrence|log1p"] + [f"ours|{v} a={a} b={b}" for v in ("sum", "mean")
                                      for a in POP_W for b in COOC_W]
            + [f"ours|mean a=0.25 b={b} t={t}" for b in (2.0, 4.0) for t in TRANS_W])


def evaluate_configs(f: Fitted, q: Queries, configs: dict[tuple[int, float], set[str] | None],
                     chunk: int) -> dict[str, dict[str, float]]:
    """HR/MRR@K for every (L, decay) -> methods; key 'family|variant|L|decay|exclusion'."""
    n = len(f.ids)
    nq = len(q.tgt)
    acc: dict[str, list[float]] = {}
    for (length, decay), only in configs.items():
        print(f"  L={length} decay={decay} ({time.strftime('%H:%M:%S')})", file=sys.stderr)
        cm = context_matrix(q.ctx, n, length, decay)
        wsum = np.asarray(cm.sum(axis=1)).ravel()
        for start in range(0, nq, chunk):
            sl = slice(start, min(start + chunk, nq))
            qm = cm[sl]
            valid = wsum[sl] > 0
            for fam, var, scores in method_scores(f, qm, wsum[sl], length, only):
                for excl, r in ranks(scores, q, sl, valid).items():
                    key = f"{fam}|{var}|{length}|{decay}|{excl}"
                    a = acc.setdefault(key, [0.0, 0.0])
                    a[0] += float((r > 0).sum())
                    a[1] += float(np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0).sum())
    return {k: {"hr@10": v[0] / nq, "mrr@10": v[1] / nq} for k, v in acc.items()}


def family_of(key: str) -> str:
    fam, var = key.split("|")[:2]
    if fam == "ours" and " t=" in var:
        return "ours_trans"
    return "ours_mean" if fam == "ours" and var.startswith("mean") else fam


def best_per_family(res: dict[str, dict[str, float]], excl: str) -> dict[str, str]:
    best: dict[str, str] = {}
    for key, m in res.items():
        if not key.endswith(f"|{excl}"):
            continue
        fam = family_of(key)
        if fam not in best or m["hr@10"] > res[best[fam]]["hr@10"] + 1e-12:
            best[fam] = key
    best["ours"] = max((best[x] for x in ("ours", "ours_mean", "ours_trans") if x in best),
                       key=lambda k: res[k]["hr@10"])
    return best


FIXED = {  # fixed, untuned rows reported on test next to the tuned ones
    "markov1": "transitions|raw|1|1.0",
    "cooc_single": "cooccurrence|raw|1|1.0",
    "ours_single": "ours|mean a=0.5 b=2.0|1|1.0",
    "ours_ctx_default": "ours|mean a=0.5 b=2.0|10|1.0",  # = the server's sum over 10 seeds
}


def configs_for(keys: list[str]) -> dict[tuple[int, float], set[str]]:
    out: dict[tuple[int, float], set[str]] = {}
    for key in keys:
        fam, var, length, decay = key.split("|")[:4]
        out.setdefault((int(length), float(decay)), set()).add(f"{fam}|{var}")
    return out


def run_seed(playlists, settings: TrainSettings, seed: int, cache: Path, chunk: int) -> dict:
    train_pl, val_pl, test_pl = split_train_val_test(playlists, 0.1, 0.2, seed=seed)
    t0 = time.perf_counter()
    s = settings.replace(seed=seed)
    fv = fit(train_pl, cache / f"seed{seed}_train", s)
    qv = make_queries(val_pl, fv.row, len(fv.ids))
    grid: dict[tuple[int, float], set[str] | None] = {}
    for length in LS:
        for decay in DECAYS if length > 1 else (1.0,):
            grid[(length, decay)] = None
    val = evaluate_configs(fv, qv, grid, chunk)
    print(f"seed {seed}: validation grid {len(val)} rows "
          f"({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    del fv, qv
    chosen = {excl: best_per_family(val, excl) for excl in EXCLUDE}
    keys = {k.rsplit("|", 1)[0] for c in chosen.values() for k in c.values()}
    keys |= set(FIXED.values())
    fit_pl = train_pl + val_pl
    ft = fit(fit_pl, cache / f"seed{seed}_trainval", s)
    qt = make_queries(test_pl, ft.row, len(ft.ids))
    test = evaluate_configs(ft, qt, configs_for(sorted(keys)), chunk)
    # the single-seed protocol with the library's own recommenders (sanity check)
    model = load_vectors(cache / f"seed{seed}_trainval")
    single = {
        "popularity": next_song_metrics(PopularityRecommender(fit_pl), test_pl),
        "transitions": next_song_metrics(transition_recommender(fit_pl), test_pl),
        "cooccurrence": next_song_metrics(cooccurrence_recommender(fit_pl), test_pl),
        "ours": next_song_metrics(next_recommender(model, fit_pl, s), test_pl),
    }
    print(f"seed {seed}: done ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    return {"seed": seed, "n_val_queries": sum(len(p) - 1 for p in val_pl),
            "n_test_queries": int(len(qt.tgt)),
        "repeat_stats": repeat_stats(qt), "val": val, "chosen": chosen, "test": test,
        "single_seed": {k: {m: v[m] for m in ("hr@10", "mrr@10", "unknown_frac")}
                        for k, v in single.items()}}


def repeat_stats(q: Queries) -> dict[str, float]:
    nq = len(q.tgt)
    in_pre = np.asarray(q.prefix[np.arange(nq), np.maximum(q.tgt, 0)]).ravel() > 0
    in10 = (q.last10 == q.tgt[:, None]).any(axis=1)
    known = q.tgt >= 0
    return {"target_in_prefix": float((in_pre & known).mean()),
            "target_in_last10": float((in10 & known).mean()),
            "target_is_last": float(((q.ctx[:, 0] == q.tgt) & known).mean())}


def report(runs: list[dict]) -> str:
    lines = []
    for excl in EXCLUDE:
        lines.append(f"\n### exclusion rule: {excl} (test HR@10 / MRR@10; config chosen on val)\n")
        lines.append("| method | " + " | ".join(f"seed {r['seed']}" for r in runs) + " | mean |")
        lines.append("|---|" + "---|" * (len(runs) + 1))
        rows: dict[str, list[tuple[float, float, str]]] = {}
        for r in runs:
            ch = r["chosen"][excl]
            for fam in FAMILIES:
                key = ch[fam].rsplit("|", 1)[0]
                m = r["test"][f"{key}|{excl}"]
                rows.setdefault(fam, []).append((m["hr@10"], m["mrr@10"], key))
            for name, key in FIXED.items():
                m = r["test"][f"{key}|{excl}"]
                rows.setdefault(name, []).append((m["hr@10"], m["mrr@10"], key))
        ratios = []
        for r_i in range(len(runs)):
            best = max(max(rows[f][r_i][0] for f in BASELINE_FAMILIES),
                       rows["markov1"][r_i][0], rows["cooc_single"][r_i][0])
            ratios.append(rows["ours"][r_i][0] / best)
        for name, vals in rows.items():
            cells = [f"{h:.4f} / {m:.4f} ({key})" for h, m, key in vals]
            mean_h = np.mean([v[0] for v in vals])
            mean_m = np.mean([v[1] for v in vals])
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean_h:.4f} / {mean_m:.4f} |")
        lines.append("| **ours / best baseline** | " + " | ".join(f"{x:.3f}" for x in ratios)
                     + f" | {np.mean(ratios):.3f} |")
    lines.append("\n### single-seed protocol (recsys.ml.evaluate.next_song_metrics, test)\n")
    lines.append("| method | " + " | ".join(f"seed {r['seed']}" for r in runs) + " | mean |")
    lines.append("|---|" + "---|" * (len(runs) + 1))
    for name in ("popularity", "transitions", "cooccurrence", "ours"):
        vals = [r["single_seed"][name]["hr@10"] for r in runs]
        lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in vals)
                     + f" | {np.mean(vals):.4f} |")
    rat = [r["single_seed"]["ours"]["hr@10"] / max(r["single_seed"][b]["hr@10"]
                                                   for b in BASELINE_FAMILIES) for r in runs]
    lines.append("| **ours / best baseline** | " + " | ".join(f"{x:.3f}" for x in rat)
                 + f" | {np.mean(rat):.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--config", default=str(ROOT / "data" / "train.yaml"))
    ap.add_argument("--out", default=str(ROOT / "var" / "bench" / "next_context.json"))
    ap.add_argument("--cache", default=str(ROOT / "var" / "bench" / "next_context"))
    args = ap.parse_args()
    settings = TrainSettings.from_yaml(args.config).replace(workers=2)
    playlists = read_playlists("yes_big")
    cache = Path(args.cache)
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(playlists, settings, seed, cache, args.chunk))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(runs, indent=1))
    for r in runs:
        print(f"seed {r['seed']}: test queries {r['n_test_queries']}, {r['repeat_stats']}")
    print(report(runs))


if __name__ == "__main__":
    main()
