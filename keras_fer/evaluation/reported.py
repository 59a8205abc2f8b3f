"""The five papers' own reported results, as data, for every registry model.

:data:`REPORTED` holds one :class:`Reported` entry per (registry model,
dataset, metric) for which the model's paper prints a number: the value is
the paper's own, in percent, as printed in the table named by ``source``
(read from the papers' text, not re-derived; nothing here was measured by
keras-fer). ``keras-fer reproduce`` prints these beside our results.
:data:`PROTOCOLS` says, per dataset, under which protocol the papers got
their numbers (a result is only comparable under the same protocol).

Conventions:

* ``dataset`` is an adapter name of :mod:`data_prep.datasets`; ``metric`` is
  ``"accuracy"`` (what the papers call accuracy, recognition rate or WAR),
  ``"uar"`` or ``"f1"``.
* ECNN-FSA prints its F1 scores (tables 2-3) as fractions (0.3816); they are
  stored in percent (38.16), the only conversion made.
* When a paper prints one result in several tables (STCAM's 99.08 % on CK+
  in tables 2, 5 and 8), there is one entry and ``source`` names the tables.
  When two tables print different numbers for the same configuration
  (ECNN-FSA tables 6 and 7), the entry keeps the parameter table (table 6,
  whose rows the paper's text analyses line by line) and ``source`` gives the
  other value.
* Results on data without an adapter are left out: AST's own "FER" dataset
  (tables 1-3, 69 private videos).

To cite a number, cite the paper (``keras_fer/models/<paper>.py`` and the
documentation's home page, ``docs/index.md``, give the full references) with the table in
``source``, e.g. "Chen et al., STCAM, table 2", not keras-fer.

Example:

>>> from keras_fer.evaluation.reported import reported
>>> [(r.dataset, r.metric, r.value) for r in reported("stanet")]
[('casme1', 'accuracy', 76.61), ('casme2', 'accuracy', 69.11), ('smic', 'accuracy', 68.9)]
>>> reported("stcam", "ckplus")[0].source
'STCAM tables 2, 5, 8'
"""

import dataclasses

from data_prep.checks import check_choice
from data_prep.datasets import ADAPTERS
from keras_fer.models.registry import get_spec, list_models

__all__ = ["METRICS", "PROTOCOLS", "REPORTED", "Reported", "reported"]

#: The metrics an entry may carry.
METRICS = ("accuracy", "uar", "f1")


@dataclasses.dataclass(frozen=True)
class Reported:
    """One number a paper reports for a registry model.

    Args:
        model: the registry name (``keras_fer.models.list_models()``).
        dataset: the :mod:`data_prep.datasets` adapter name.
        metric: one of :data:`METRICS`.
        value: the paper's number, in percent, as printed.
        source: the paper and table(s), e.g. ``"STANet table 1"``.
    """

    model: str
    dataset: str
    metric: str
    value: float
    source: str


def _rows(model, source, metric="accuracy", **values):
    """Entries of ``model`` with the same source and metric; ``values`` maps dataset -> value."""
    return tuple(Reported(model, dataset, metric, value, source) for dataset, value in values.items())


#: Every reported number, in registry order (AST, STCAM, ECNN-FSA, CEFLNet, STANet).
REPORTED = (
    # AST (Deshmukh et al. 2021). Tables 1-3 print accuracy on UCF-101, MMI, CASME II and the
    # private FER set (left out). Table 1: VGG-Face pool5 features; table 2: ASM landmark
    # features (no UCF-101 column); table 3: small CNN trained from scratch.
    *_rows("ast", "AST table 1, AST", ucf101=97.56, mmi=83.33, casme2=66.6),
    *_rows("ast_lstm", "AST table 1, LSTM", ucf101=97.56, mmi=83.33, casme2=59.02),
    *_rows("ast_gap", "AST table 1, GlobalAVGpooling", ucf101=95.12, mmi=50.0, casme2=58.2),
    *_rows("ast_landmarks", "AST table 2, Attention Model", mmi=66.6, casme2=90.79),
    *_rows("ast_landmarks_lstm", "AST table 2, LSTM", mmi=33.33, casme2=73.68),
    *_rows("ast_cnn", "AST table 3, Attention Model", ucf101=95.24, mmi=33.33, casme2=41.18),
    *_rows("ast_cnn_lstm", "AST table 3, LSTM", ucf101=95.24, mmi=33.33, casme2=41.94),
    # STCAM (Chen et al.). Tables 2-4: ablation on CK+, Oulu-CASIA, MMI; tables 5-7 repeat the
    # Baseline and Baseline + STCAM rows among the state of the art; table 8: non-local blocks.
    *_rows("stcam", "STCAM tables 2, 5, 8", ckplus=99.08),
    *_rows("stcam", "STCAM tables 3, 6, 8", oulu_casia=91.25),
    *_rows("stcam", "STCAM tables 4, 7, 8", mmi=82.21),
    *_rows("stcam_baseline", "STCAM tables 2, 5, 8", ckplus=98.47),
    *_rows("stcam_baseline", "STCAM tables 3, 6, 8", oulu_casia=89.16),
    *_rows("stcam_baseline", "STCAM tables 4, 7, 8", mmi=77.40),
    *_rows("stcam_cam", "STCAM tables 2-4, Baseline + 3D-CAM", ckplus=98.78, oulu_casia=90.21, mmi=78.84),
    *_rows("stcam_stam", "STCAM tables 2-4, Baseline + STAM", ckplus=98.47, oulu_casia=89.79, mmi=78.37),
    *_rows("stcam_stam_cam", "STCAM tables 2-4, Baseline + STAM + 3D-CAM",
           ckplus=98.47, oulu_casia=90.62, mmi=77.89),
    *_rows("stcam_nl_gaussian", "STCAM table 8, NL-Gaussian", ckplus=98.78, oulu_casia=90.21, mmi=78.37),
    *_rows("stcam_nl_embedded_gaussian", "STCAM table 8, NL-Embedded Gaussian",
           ckplus=98.78, oulu_casia=90.00, mmi=78.84),
    # ECNN-FSA (Chen, Tong, Zhang, Xu 2023). Table 4: CK+; tables 2, 3, 6, 7, 9: AFEW.
    *_rows("ecnn_fsa", "ECNN-FSA table 4", ckplus=97.95),
    *_rows("ecnn_fsa", "ECNN-FSA table 6 row 4, tables 7, 9", afew=49.78),
    *_rows("ecnn_fsa_2fc_s006", "ECNN-FSA table 6 row 1 (table 7 prints 42.91)", afew=40.91),
    *_rows("ecnn_fsa_s006", "ECNN-FSA table 6 row 2 (table 7 prints 43.97)", afew=41.97),
    *_rows("ecnn_fsa_s001", "ECNN-FSA table 6 row 3", afew=41.14),
    *_rows("ecnn_fsa_s0001", "ECNN-FSA table 7, s = 0.001", afew=43.14),
    *_rows("ecnn_fsa_s02", "ECNN-FSA table 6 row 5, table 7", afew=49.25),
    *_rows("ecnn_fsa_s03", "ECNN-FSA table 6 row 6, table 7", afew=43.77),
    *_rows("ecnn_fsa_3072_s006", "ECNN-FSA table 6 row 7 (table 7 prints 41.64)", afew=40.64),
    *_rows("ecnn_fsa_3072_2fc_s006", "ECNN-FSA table 6 row 8 (table 7 prints 41.76)", afew=39.76),
    *_rows("ecnn_score_fusion", "ECNN-FSA table 4, Score fusion (baseline)", ckplus=94.6),
    *_rows("ecnn_lstm", "ECNN-FSA table 9, CNN-LSTM [30] (end-to-end)", afew=41.57),
    *_rows("ecnn_lstm2", "ECNN-FSA table 3 (Fc1, 7 x 7), table 7", afew=41.25),
    *_rows("ecnn_lstm2", "ECNN-FSA table 3 (Fc1, 7 x 7)", "f1", afew=38.16),
    *_rows("ecnn_lstm2_fc1_k5", "ECNN-FSA table 3 (Fc1, 5 x 5)", afew=40.16),
    *_rows("ecnn_lstm2_fc1_k5", "ECNN-FSA table 3 (Fc1, 5 x 5)", "f1", afew=37.33),
    *_rows("ecnn_lstm2_fc2_k5", "ECNN-FSA table 3 (Fc2, 5 x 5)", afew=39.34),
    *_rows("ecnn_lstm2_fc2_k5", "ECNN-FSA table 3 (Fc2, 5 x 5)", "f1", afew=35.14),
    *_rows("ecnn_lstm2_fc2_k7", "ECNN-FSA table 3 (Fc2, 7 x 7)", afew=40.44),
    *_rows("ecnn_lstm2_fc2_k7", "ECNN-FSA table 3 (Fc2, 7 x 7)", "f1", afew=37.63),
    *_rows("ecnn_nobranch_lstm", "ECNN-FSA table 2, CNN-LSTM (2048)", afew=33.69),
    *_rows("ecnn_nobranch_lstm", "ECNN-FSA table 2, CNN-LSTM (2048)", "f1", afew=28.95),
    *_rows("ecnn_nobranch_lstm_3000", "ECNN-FSA table 2, CNN-LSTM (3000)", afew=32.88),
    *_rows("ecnn_nobranch_lstm_3000", "ECNN-FSA table 2, CNN-LSTM (3000)", "f1", afew=29.54),
    *_rows("ecnn_nobranch_lstm2", "ECNN-FSA table 2, 2 layer LSTMs (2048, 2048)", afew=34.50),
    *_rows("ecnn_nobranch_lstm2", "ECNN-FSA table 2, 2 layer LSTMs (2048, 2048)", "f1", afew=32.79),
    *_rows("ecnn_nobranch_lstm2_3000", "ECNN-FSA table 2, 2 layer LSTMs (3000, 3000)", afew=34.77),
    *_rows("ecnn_nobranch_lstm2_3000", "ECNN-FSA table 2, 2 layer LSTMs (3000, 3000)", "f1", afew=30.69),
    *_rows("ecnn_nobranch_lstm2_2048_1024", "ECNN-FSA table 2, 2 layer LSTMs (2048, 1024)", afew=34.23),
    *_rows("ecnn_nobranch_lstm2_2048_1024", "ECNN-FSA table 2, 2 layer LSTMs (2048, 1024)", "f1", afew=29.50),
    # CEFLNet (Liu et al. 2022). Tables 2-5: BU-3DFE, MMI, AFEW 8.0, DFEW; table 6: ablation on
    # BU-3DFE (85.33 is also in tables 8 and 9, the 5-frames row).
    *_rows("ceflnet", "CEFLNet tables 2, 6, 8, 9", bu3dfe=85.33),
    *_rows("ceflnet", "CEFLNet table 3", mmi=91.00),
    *_rows("ceflnet", "CEFLNet table 4 (AFEW 8.0)", afew=53.98),
    *_rows("ceflnet", "CEFLNet table 5", dfew=65.35),
    # ceflnet_official (the authors' released code): the paper prints one number per dataset for its
    # model, not one for the code; these are the full model's, to say which row this is.
    *_rows("ceflnet_official", "CEFLNet tables 2, 6, 8, 9 (the paper's model; the released code is not "
           "reported apart)", bu3dfe=85.33),
    *_rows("ceflnet_sal_lrl", "CEFLNet table 6, + LRL", bu3dfe=84.67),
    *_rows("ceflnet_sal", "CEFLNet table 6, + SAL", bu3dfe=84.17),
    *_rows("ceflnet_baseline", "CEFLNet table 6, ResNet-18", bu3dfe=62.77),
    *_rows("ceflnet_lstm", "CEFLNet table 6, CNN-LSTM", bu3dfe=79.17),
    # STANet. Table 1: CASME I, CASME II, SMIC-HS; table 2: ablation on CASME I.
    *_rows("stanet", "STANet table 1, Ours (table 2, baseline+SAB+TAB+l1)", casme1=76.61),
    *_rows("stanet", "STANet table 1, Ours", casme2=69.11, smic=68.90),
    *_rows("stanet_sab_l1", "STANet table 2, baseline+SAB+l1", casme1=74.85),
    *_rows("stanet_sab", "STANet table 2, baseline+SAB", casme1=73.10),
    *_rows("stanet_baseline", "STANet table 2, baseline", casme1=71.35),
)

#: Dataset -> the protocol behind the papers' numbers on it (where papers differ, each is named).
PROTOCOLS = {
    "afew": "differs: ECNN-FSA AFEW 7.0 (EmotiW 2017; train 773 / val 383), the evaluated partition not named "
            "(sec. 2.1); CEFLNet AFEW 8.0, train on Train, report on Val (sec. 4.1)",
    "bu3dfe": "CEFLNet: 606 sequences of 101 subjects, 6 classes, 10-fold (sec. 4.1; subject independence not stated)",
    "casme1": "STANet: leave-one-subject-out, 4 classes (disgust, repression, surprise, tense), accuracy (sec. 4.1)",
    "casme2": "differs: STANet leave-one-subject-out, 5 classes (sec. 4.1); AST 247 samples, 5 classes, "
              "split not stated (sec. 3, Implementation details)",
    "ckplus": "differs: STCAM 10-fold subject-independent, subjects in ID order with step 10, 7 classes with contempt "
              "(sec. 4.1); ECNN-FSA '5 times of cross validation' (sec. 2.3), 7 classes with neutral (table 5)",
    "dfew": "CEFLNet: the 5 official folds, 5-fold cross-validation (sec. 4.1)",
    "mmi": "differs: STCAM 208 sequences of 30 subjects, 6 classes, 10-fold subject-independent (sec. 4.1); "
           "CEFLNet 205 sequences of 30 subjects, 10-fold (sec. 4.1); AST a 29-video set of 6 other classes "
           "(neutral, smile, yawn, sleep, surprise, angry), split not stated (sec. 3, Implementation details)",
    "oulu_casia": "STCAM: 480 VIS strong-illumination sequences of 80 subjects, 6 classes, 10-fold "
                  "subject-independent as CK+ (sec. 4.1)",
    "smic": "STANet: SMIC-HS, leave-one-subject-out, 3 classes (positive, negative, surprise) (sec. 4.1)",
    "ucf101": "AST: 13,320 clips, 101 classes, which official split not stated (sec. 3, Implementation details)",
}


def reported(model=None, dataset=None, paper=None):
    """The entries of :data:`REPORTED` that match every filter given.

    Args:
        model: a registry name, or None for all.
        dataset: a :mod:`data_prep.datasets` adapter name, or None for all.
        paper: ``"ast"``, ``"stcam"``, ``"ecnn_fsa"``, ``"ceflnet"`` or ``"stanet"`` (the registry
            spec's ``paper``), or None for all.

    Returns:
        A list of :class:`Reported`, in :data:`REPORTED` order; empty when the paper
        reports nothing for the combination.

    Raises:
        ValueError: an unknown model, dataset or paper.

    Example:

    >>> [(r.metric, r.value) for r in reported("ecnn_nobranch_lstm", "afew")]
    [('accuracy', 33.69), ('f1', 28.95)]
    >>> len(reported(dataset="ckplus", paper="stcam"))
    7
    """
    if model is not None:
        check_choice(model, list_models(), "model")
    if dataset is not None:
        check_choice(dataset, sorted(ADAPTERS), "dataset")
    if paper is not None:
        list_models(paper)  # ValueError listing the papers
    return [entry for entry in REPORTED
            if (model is None or entry.model == model)
            and (dataset is None or entry.dataset == dataset)
            and (paper is None or get_spec(entry.model).paper == paper)]
