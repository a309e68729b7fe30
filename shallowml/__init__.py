"""shallowml: fast, robust, scikit-learn compatible Mahalanobis metric learning.

Every estimator learns a linear map ``L`` (``components_``) and the metric
``d(x, y) = ||L x - L y||``. :mod:`shallowml.metrics` scores the learned
space by retrieval (P@1, R-precision, MAP@R) and :mod:`shallowml.evaluation`
by few-shot episodes on unseen classes. Importing the package compiles
nothing; numba kernels compile on first use.
"""

from . import evaluation, metrics
from .itml import ITML, ITML_Supervised
from .lsml import LSML, LSML_Supervised
from .lmnn import LMNN
from .mlkr import MLKR
from .mmc import MMC, MMC_Supervised
from .nca import NCA
from .sdml import SDML, SDML_Supervised
from .scml import SCML, SCML_Supervised
from .siamese import LinearSiamese, LinearSiamese_Supervised
from .whitening import LDA, LFDA, RCA, RCA_Supervised, Covariance

__version__ = "0.1.0.dev0"

__all__ = ["Covariance", "ITML", "ITML_Supervised", "LDA", "LFDA", "LMNN", "LSML", "LSML_Supervised", "MLKR",
           "MMC", "MMC_Supervised", "NCA", "LinearSiamese", "LinearSiamese_Supervised", "RCA",
           "RCA_Supervised", "SCML", "SCML_Supervised", "SDML", "SDML_Supervised", "__version__",
           "evaluation", "metrics"]
