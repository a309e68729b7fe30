"""Row-block layout shared by the blocked pairwise losses (NCA, MLKR).

Both losses visit the ``n x m`` matrix of pair weights one block of anchor
rows at a time, so memory is ``O(block_rows * m)``; squared distances inside
a block come either from one BLAS product (``|a|^2 + |b|^2 - 2ab`` on centred
embeddings, fast for many embedded dimensions) or from the kernel's exact
difference form (no cancellation; as fast for few dimensions). The two rules
here, block size and distance form, are the only place those choices are made.
"""

import numpy as np

# the product form is used only while every |z|^2 stays below this, so that
# |a|^2 + |b|^2 + 2|ab| cannot overflow (otherwise: the difference form)
_PRODUCTS_MAX_SQ_NORM = 1e300 / 4
# bytes the block buffers take per (row, column) entry
_TARGET_BYTES = 32 * 2**20


def default_block_rows(n_columns, bytes_per_entry, *, target_bytes=_TARGET_BYTES):
    """Rows per block so that the block buffers of ``n_columns`` columns take about ``target_bytes``.

    At least 16 rows (fewer make the BLAS products inefficient), at most ``n_columns``.

    Examples
    --------
    >>> from shallowml._losses._blocks import default_block_rows
    >>> default_block_rows(100_000, 8)  # 32 MiB of float64
    41
    """
    return int(max(16, min(n_columns, target_bytes // (bytes_per_entry * max(n_columns, 1)))))


def resolve_block_rows(block_rows, n_rows, n_columns, bytes_per_entry):
    """Rows per block: ``block_rows`` (None: :func:`default_block_rows`), between 1 and ``n_rows``.

    Examples
    --------
    >>> from shallowml._losses._blocks import resolve_block_rows
    >>> resolve_block_rows(None, 10, 100, 8), resolve_block_rows(0, 10, 100, 8)
    (10, 1)
    """
    if block_rows is None:
        block_rows = default_block_rows(n_columns, bytes_per_entry)
    return int(max(1, min(block_rows, max(n_rows, 1))))


def distances_from_products(n_dims, min_dims, *sq_norms):
    """Whether a block's squared distances come from a BLAS product.

    True when the embedding has at least ``min_dims`` dimensions (each kernel
    measures its own crossover) and no squared norm in ``sq_norms`` is large
    enough for the product form to overflow.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses._blocks import distances_from_products
    >>> distances_from_products(8, 4, np.ones(3)), distances_from_products(8, 4, np.full(3, 1e300))
    (True, False)
    """
    if n_dims < min_dims:
        return False
    top = max((float(s.max(initial=0.0)) for s in sq_norms), default=0.0)
    return top < _PRODUCTS_MAX_SQ_NORM


def centred(*Zs):
    """Each of ``Zs`` minus the column means of the last one, C-contiguous.

    Distances are translation invariant; centring keeps the squared norms of
    the product form small.
    """
    mean = Zs[-1].mean(axis=0)
    return [np.ascontiguousarray(Z - mean) for Z in Zs]
