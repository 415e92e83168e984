"""Training engine facade (the implementation lives in ``igpw_viz.training``): ``preset`` / ``TrainConfig``
for the paper's protocol per dataset, ``train`` for one run into ``runs/<name>/``, ``evaluate``,
``CyclicSchedule`` for the paper's learning rate."""

from .training import *  # noqa: F403
from .training import __all__  # noqa: F401
