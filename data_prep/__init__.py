"""Video preparation for keras-fer: decoding, faces, frame samplers, optical flow.

The lower layer of the package: NumPy / OpenCV / MTCNN only, it never imports
``keras_fer``.
"""
