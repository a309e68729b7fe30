"""Loss and gradient functions: module-level and pure, ``f(params_flat, X, ...) -> (loss, grad)``."""
