"""ERS: entropy rate superpixels (Liu, Tuzel, Ramalingam and Chellappa, CVPR 2011), implemented here.

The image is an 8-connected graph with Gaussian colour similarities ``w_ij``. Choosing an edge
set A (a forest: one tree per superpixel) defines a random walk whose transition from pixel i is
``w_ij / d_i`` along the chosen edges, where ``d_i`` is the total weight of i's edges in the full
graph; the weight of the unchosen edges stays on i's self loop, so ``d_i`` and with it the
stationary distribution ``mu_i = d_i / w_T`` never change. The objective is

    F(A) = H(A) + lambda * B(A)
    H(A) = -sum_i mu_i sum_j p_ij log p_ij                 (entropy rate of that walk)
    B(A) = -sum_clusters (|S| / N) log(|S| / N) - N_A     (balancing: entropy of the size
                                                            distribution minus the cluster count)

maximised greedily: edges are added while they join two clusters, until ``n`` clusters remain.
Both terms are submodular, so an edge's gain only falls as A grows and a lazy greedy heap (pop
the best stale gain, recompute it, accept it if it still beats the next stale gain) picks the
true best edge each step. Clusters are kept in a union-find.

Gains, with self-loop weight ``s_i`` (``d_i`` minus the chosen edges at i) and ``xlogx(t) = t log t``:
adding edge (i, j) of weight w raises H by ``(phi(s_i, w) + phi(s_j, w)) / w_T`` with
``phi(s, w) = xlogx(s) - xlogx(w) - xlogx(s - w)`` (the ``log d_i`` terms cancel), and raises B by
``(xlogx(a) + xlogx(b) - xlogx(a + b)) / N + 1`` for clusters of sizes a and b.

lambda follows the paper's rule as this module reads it: ``lambda = lambda' * K * beta`` with
``beta`` the largest initial entropy gain over the balancing gain of merging two single pixels,
so that lambda' is free of the image's weight scale; lambda' = 0.5 and sigma = 5 (on 0..255
intensities) are the authors' published defaults.
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from benchmark.errors import DsbenchError
from methods.superpixels.classical import check_image
from methods.superpixels.connectivity import enforce_connectivity, register_classical


def xlogx(t):
    """t log t with 0 log 0 = 0, for floats or arrays."""
    if isinstance(t, np.ndarray):
        out = np.zeros_like(t, dtype=np.float64)
        positive = t > 0
        out[positive] = t[positive] * np.log(t[positive])
        return out
    return t * math.log(t) if t > 0 else 0.0


def pixel_graph(image: np.ndarray, sigma: float = 5.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8-connected pixel graph: endpoints (flat indices) and Gaussian similarities of each edge.

    ``w = exp(-d^2 / (2 sigma^2))`` with d the RGB Euclidean distance divided by sqrt(3), so that a
    grey image gives the intensity difference the authors' code uses; diagonal neighbours are
    sqrt(2) apart, so their d is multiplied by sqrt(2).
    """
    h, w = image.shape[:2]
    colour = image.reshape(h, w, -1).astype(np.float64)
    index = np.arange(h * w).reshape(h, w)
    # (row slice, col slice) of the first endpoint and the offset to the second, per direction.
    directions = [((slice(None), slice(0, w - 1)), (0, 1), 1.0),
                  ((slice(0, h - 1), slice(None)), (1, 0), 1.0),
                  ((slice(0, h - 1), slice(0, w - 1)), (1, 1), math.sqrt(2)),
                  ((slice(0, h - 1), slice(1, w)), (1, -1), math.sqrt(2))]
    heads, tails, weights = [], [], []
    for (rows, cols), (dy, dx), spacing in directions:
        first = index[rows, cols]
        second = first + dy * w + dx
        diff = colour.reshape(h * w, -1)[first.ravel()] - colour.reshape(h * w, -1)[second.ravel()]
        distance2 = (diff ** 2).sum(axis=1) / colour.shape[2] * spacing ** 2
        heads.append(first.ravel())
        tails.append(second.ravel())
        weights.append(np.exp(-distance2 / (2.0 * sigma ** 2)))
    return np.concatenate(heads), np.concatenate(tails), np.concatenate(weights)


def entropy_rate_objective(n_vertices: int, heads, tails, weights, chosen, balance: float) -> float:
    """F(A) straight from the definitions (no gains): the reference the greedy is tested against."""
    heads, tails, weights = np.asarray(heads), np.asarray(tails), np.asarray(weights, dtype=np.float64)
    degree = np.bincount(heads, weights, n_vertices) + np.bincount(tails, weights, n_vertices)
    total = degree.sum()
    entropy = 0.0
    chosen = list(chosen)
    out_edges = [[] for _ in range(n_vertices)]
    for e in chosen:
        out_edges[heads[e]].append(weights[e])
        out_edges[tails[e]].append(weights[e])
    for i in range(n_vertices):
        if degree[i] <= 0:
            continue
        probabilities = [x / degree[i] for x in out_edges[i]]
        probabilities.append(1.0 - sum(probabilities))  # self loop
        entropy -= degree[i] / total * sum(p * math.log(p) for p in probabilities if p > 0)
    parent = list(range(n_vertices))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for e in chosen:
        parent[find(int(heads[e]))] = find(int(tails[e]))
    sizes = np.bincount([find(i) for i in range(n_vertices)])
    sizes = sizes[sizes > 0] / n_vertices
    balancing = float(-(sizes * np.log(sizes)).sum()) - sizes.size
    return entropy + balance * balancing


def balance_weight(n_vertices: int, heads, tails, weights, n_clusters: int,
                   lambda_prime: float = 0.5) -> float:
    """lambda = lambda' * K * (largest initial entropy gain) / (balancing gain of two single pixels)."""
    weights = np.asarray(weights, dtype=np.float64)
    degree = np.bincount(heads, weights, n_vertices) + np.bincount(tails, weights, n_vertices)
    total = degree.sum()
    if total <= 0:
        return 0.0
    gains = (_phi_array(degree[heads], weights) + _phi_array(degree[tails], weights)) / total
    pair_gain = (2 * xlogx(1.0) - xlogx(2.0)) / n_vertices + 1.0
    return lambda_prime * n_clusters * float(gains.max()) / pair_gain


def _phi_array(self_loop: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return xlogx(self_loop) - xlogx(weight) - xlogx(np.maximum(self_loop - weight, 0.0))


def greedy_merge(n_vertices: int, heads, tails, weights, n_clusters: int,
                 balance: float) -> tuple[np.ndarray, list[int]]:
    """Lazy-greedy maximisation of F; returns per-vertex cluster ids (0..) and the chosen edges in order."""
    heads_list = np.asarray(heads).tolist()
    tails_list = np.asarray(tails).tolist()
    weights = np.asarray(weights, dtype=np.float64)
    degree = np.bincount(heads, weights, n_vertices) + np.bincount(tails, weights, n_vertices)
    total = float(degree.sum()) or 1.0
    weight_list = weights.tolist()
    self_loop = degree.tolist()
    parent = list(range(n_vertices))
    size = [1] * n_vertices
    log = math.log

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    def plogp(t):
        return t * log(t) if t > 1e-300 else 0.0

    def gain(e, a, b):
        x = weight_list[e]
        si, sj = self_loop[heads_list[e]], self_loop[tails_list[e]]
        entropy = (plogp(si) - plogp(si - x) + plogp(sj) - plogp(sj - x) - 2 * plogp(x)) / total
        merged = (plogp(a) + plogp(b) - plogp(a + b)) / n_vertices + 1.0
        return entropy + balance * merged

    initial = ((_phi_array(degree[heads], weights) + _phi_array(degree[tails], weights)) / total
               + balance * ((2 * xlogx(1.0) - xlogx(2.0)) / n_vertices + 1.0))
    # Max-heap via negated gains; the edge index breaks ties deterministically.
    heap = list(zip((-initial).tolist(), range(len(weight_list))))
    heapq.heapify(heap)
    clusters, chosen = n_vertices, []
    pop, push = heapq.heappop, heapq.heappush
    while clusters > n_clusters and heap:
        _, e = pop(heap)
        ri, rj = find(heads_list[e]), find(tails_list[e])
        if ri == rj:
            continue  # would close a cycle: A must stay a forest
        current = gain(e, size[ri], size[rj])
        if heap and current < -heap[0][0]:
            push(heap, (-current, e))  # stale: another edge may now be better
            continue
        x = weight_list[e]
        self_loop[heads_list[e]] -= x
        self_loop[tails_list[e]] -= x
        if size[ri] < size[rj]:
            ri, rj = rj, ri
        parent[rj] = ri
        size[ri] += size[rj]
        clusters -= 1
        chosen.append(e)
    roots = np.fromiter((find(i) for i in range(n_vertices)), dtype=np.int64, count=n_vertices)
    return np.unique(roots, return_inverse=True)[1].astype(np.int64), chosen


def ers(image: np.ndarray, n_superpixels: int, lambda_prime: float = 0.5, sigma: float = 5.0) -> np.ndarray:
    """ERS superpixels of an (H, W, 3) uint8 RGB image: (H, W) int64 contiguous ids from 0.

    ``lambda_prime=0.5`` and ``sigma=5.0`` are the authors' defaults (tuned on BSDS); the graph is
    8-connected as in their code's default. The result goes through the shared connectivity
    enforcement (the greedy's trees are connected already; it absorbs tiny clusters and splits
    clusters above 3x the nominal size).
    """
    image = check_image(image, n_superpixels, "ers")
    if sigma <= 0 or lambda_prime < 0:
        raise DsbenchError(f"ers: need sigma > 0 and lambda_prime >= 0, got {sigma} and {lambda_prime}")
    h, w = image.shape[:2]
    heads, tails, weights = pixel_graph(image, sigma)
    balance = balance_weight(h * w, heads, tails, weights, n_superpixels, lambda_prime)
    clusters, _ = greedy_merge(h * w, heads, tails, weights, n_superpixels, balance)
    return enforce_connectivity(clusters.reshape(h, w), n_superpixels)


register_classical("ers", ers)
