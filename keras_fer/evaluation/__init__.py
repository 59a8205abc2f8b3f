"""Evaluation protocols: subject-independent splits, official splits, validation carving, metrics.

``keras_fer.evaluation.splits`` builds the folds of the papers' protocols
(subject-independent k-fold with the CK+ convention, leave-one-subject-out,
the AFEW/DFEW/UCF-101 official splits) and carves validation subjects out of
training; ``keras_fer.evaluation.metrics`` scores predictions (accuracy/WAR,
UAR, macro-F1, MEGC composite UF1/UAR, per-class scores, confusion matrices).
Both are plain NumPy functions of ids and integer class indices;
``keras_fer.evaluation.reported`` holds the papers' own numbers. Running a
protocol (training on each fold) is a job: :mod:`keras_fer.jobs.training`.
"""

from keras_fer.evaluation import metrics, splits
from keras_fer.evaluation.metrics import (
                                          accuracy,
                                          classification_report,
                                          composite_scores,
                                          confusion_matrix,
                                          macro_f1,
                                          per_class_recall,
                                          per_class_scores,
                                          uar,
)
from keras_fer.evaluation.splits import (
                                          Fold,
                                          check_folds,
                                          folds_from_mapping,
                                          leave_one_subject_out,
                                          official_splits,
                                          subject_kfold,
                                          summarise,
                                          validation_split,
)

__all__ = [
    "Fold",
    "accuracy",
    "check_folds",
    "classification_report",
    "composite_scores",
    "confusion_matrix",
    "folds_from_mapping",
    "leave_one_subject_out",
    "macro_f1",
    "metrics",
    "official_splits",
    "per_class_recall",
    "per_class_scores",
    "splits",
    "subject_kfold",
    "summarise",
    "uar",
    "validation_split",
]
