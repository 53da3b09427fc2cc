"""The networks by name: the ``--arch`` and ``--task`` choices and each task's output heads.

Plain data, without torch, so that the command-line parsers (and ``--help``) stay light; ``model``
builds the networks from it.
"""

from .errors import UserError
from .joints import NUM_JOINTS

# ResNet depth -> (residual block kind, blocks per stage)
RESNET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
ARCHS = tuple(f"msra_{depth}" for depth in RESNET_STAGES)
TASKS = ("human2d", "human3d")


def heads_for(task):
    """The output heads of ``task``: one heatmap per MPII-16 joint (``hm``) and, for human3d, one
    depth map per joint (``depth``)."""
    if task not in TASKS:
        raise UserError(f"task '{task}' is neither human2d nor human3d")
    return {"hm": NUM_JOINTS, **({"depth": NUM_JOINTS} if task == "human3d" else {})}
