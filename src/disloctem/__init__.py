"""disloctem: synthetic TEM dislocation data, deep models and their evaluation on real micrographs.

Line classes are indexed in the order of :data:`CLASSES`; every mask channel, COCO category
(id = index + 1) and model output channel follows that order.
"""

CLASSES: tuple[str, ...] = ("dislocation", "slip_trace", "grain_boundary")

__version__ = "0.1.0"
