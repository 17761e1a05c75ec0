#!/usr/bin/python3
"""fmnist_csv.py OUTDIR: Fashion-MNIST IDX -> CSV with the label as text
("c0".."c9"), so that cohort's partition schemes that need a categorical
target (shards, dirichlet) accept it. The IDX reader gives a numeric label."""
import gzip
import sys

import numpy as np

SRC = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    out = sys.argv[1]
    for part in ("train", "t10k"):
        x = idx(f"{SRC}/{part}-images-idx3-ubyte.gz").reshape(-1, 784)
        y = idx(f"{SRC}/{part}-labels-idx1-ubyte.gz")
        with open(f"{out}/fmnist-{part}.csv", "w") as f:
            f.write(",".join(f"px{i}" for i in range(784)) + ",label\n")
            for row, lab in zip(x, y):
                f.write(",".join(map(str, row.tolist())) + f",c{lab}\n")


if __name__ == "__main__":
    main()
