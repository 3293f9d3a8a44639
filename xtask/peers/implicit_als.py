#!/usr/bin/env python3
"""The peer for `cargo xtask bench recs`: implicit's AlternatingLeastSquares, fitted and asked
for top-K lists with the same data and settings as showrunner, timed the same way (fit alone;
recommend for every listed user alone).

Usage: implicit_als.py TRAIN.csv USERS.txt OUT.csv --factors F --iterations N
       --regularization R --alpha A --threads T [--k 20]
Prints one JSON line: {"fit_s": ..., "recommend_s": ..., "users": ...}.
Needs: pip install implicit threadpoolctl scipy numpy
"""
import argparse, csv, json, os, sys, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train"); ap.add_argument("users"); ap.add_argument("out")
    ap.add_argument("--factors", type=int, required=True)
    ap.add_argument("--iterations", type=int, required=True)
    ap.add_argument("--regularization", type=float, required=True)
    ap.add_argument("--alpha", type=float, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=20)
    a = ap.parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy as np
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits
    from implicit.cpu.als import AlternatingLeastSquares

    users, items, rows, cols = {}, {}, [], []
    with open(a.train, newline="") as f:
        for r in csv.DictReader(f):
            rows.append(users.setdefault(r["user"], len(users)))
            cols.append(items.setdefault(r["item"], len(items)))
    X = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                      shape=(len(users), len(items)))
    X.sum_duplicates()
    X.data[:] = 1.0
    wanted = [u.strip() for u in open(a.users) if u.strip()]
    known = [u for u in wanted if u in users]
    idx = np.array([users[u] for u in known])
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=a.factors, iterations=a.iterations,
                                        regularization=a.regularization, alpha=a.alpha,
                                        num_threads=a.threads, random_state=42)
        t0 = time.perf_counter()
        model.fit(X, show_progress=False)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ids, scores = model.recommend(idx, X[idx], N=a.k, filter_already_liked_items=True)
        rec_s = time.perf_counter() - t0
    inv = list(items)
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "rank", "score"])
        for u, row_ids, row_sc in zip(known, ids, scores):
            for rank, (i, s) in enumerate(zip(row_ids, row_sc), 1):
                if i >= 0:
                    w.writerow([u, inv[i], rank, f"{s:.6g}"])
    print(json.dumps({"fit_s": fit_s, "recommend_s": rec_s, "users": len(known)}))

if __name__ == "__main__":
    sys.exit(main())
