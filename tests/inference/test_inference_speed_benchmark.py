import numpy as np

from inference_speed import FER_CLASSES, FerTflite, in_class_order

FERPLUS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


def test_scores_are_put_in_the_data_s_class_order_and_a_class_the_scorer_lacks_is_never_answered():
    scores = np.eye(7)[[0, 6, 3]]  # fer's anger, neutral, happiness
    reordered = in_class_order(scores, FER_CLASSES, FERPLUS)
    assert reordered.shape == (3, 8)
    assert [FERPLUS[i] for i in reordered.argmax(1)] == ["anger", "neutral", "happiness"]
    assert not reordered[:, FERPLUS.index("contempt")].any()


def test_fer_s_input_is_its_64_px_grey_face_scaled_to_minus_one_to_one():
    faces = np.zeros((2, 48, 48, 1), np.uint8)
    faces[1] = 255
    x = FerTflite.prepare(faces)
    assert x.shape == (2, 64, 64, 1) and x.dtype == np.float32
    assert (x[0] == -1).all() and (x[1] == 1).all()
