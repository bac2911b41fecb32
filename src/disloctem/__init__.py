"""disloctem: synthetic TEM dislocation data, deep models and their evaluation on real micrographs.

Line classes are indexed in the order of :data:`CLASSES`; every mask channel, COCO category
(id = index + 1) and model output channel follows that order.
"""

CLASSES: tuple[str, ...] = ("dislocation", "slip_trace", "grain_boundary")

# a training dataset's folder of per-class masks of pixels without a label (no loss there):
# ``ignore/<class>/<stem>.png`` beside ``masks/<class>/``; pseudo-labelled datasets have it
IGNORE_DIR = "ignore"

__version__ = "0.1.0"
