"""Mini-batch k-means for diffclust."""

from diffclust_minibatch.backend import MiniBatchKMeans

__all__ = ["MiniBatchKMeans"]
