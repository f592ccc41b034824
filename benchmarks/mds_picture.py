"""The README's MDS picture: scikit-learn's digits (1797 x 64) embedded in 2-D by
``alignxpert_fast.MDS`` (defaults) and by scikit-learn's ``MDS(n_init=1, init="random")``,
side by side, with the time and normalized stress of each in the titles.

    python -m benchmarks.mds_picture [out.png]   # from the repository root;
                                                 # default benchmarks/results/mds_digits.png

Needs matplotlib (not a dependency of the library).
"""
import os
import sys
import time


def main(out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits
    from sklearn.manifold import MDS as SkMDS
    from threadpoolctl import threadpool_limits

    import alignxpert_fast as axf

    X, y = load_digits(return_X_y=True)
    runs = []
    t0 = time.perf_counter()
    Z = axf.MDS(n_components=2, random_state=0, n_threads=1).fit_transform(X)
    runs.append(("alignxpert_fast.MDS", Z, time.perf_counter() - t0))
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        Z = SkMDS(n_components=2, n_init=1, init="random", random_state=0).fit_transform(X)
        runs.append(('sklearn MDS(init="random")', Z, time.perf_counter() - t0))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    for ax, (name, Z, sec) in zip(axes, runs):
        sigma = axf.stress(X, Z)
        sc = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=6)
        ax.set_title(f"{name}\n{sec:.2f} s, normalized stress {sigma:.4f}", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(sc, ax=axes, ticks=range(10), label="digit", shrink=0.8)
    fig.suptitle("digits (1797 x 64) -> 2-D metric MDS, 1 thread", fontsize=11)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    for name, Z, sec in runs:
        print(f"{name}: {sec:.2f} s, sigma {axf.stress(X, Z):.5f}")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results", "mds_digits.png"))
