"""The numpy port of the speaker network, checked number by number against an independent
implementation: the same weights run as an ONNX graph (onnxruntime's own LSTM, Gemm, ReLU and
L2 normalisation kernels, with ONNX's gate order), on the same mel windows."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from audiotext.diarization import default_path
from audiotext.diarization.encoder import LAYERS, N_MELS, SpeakerEncoder
from audiotext.diarization.weights import read_state

HIDDEN = 256


def _onnx_gates(matrix: np.ndarray) -> np.ndarray:
    """PyTorch stacks the gates (input, forget, cell, output); ONNX wants (input, output,
    forget, cell)."""
    i, f, g, o = np.split(matrix, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def encoder_graph(state: dict[str, np.ndarray]) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights = [], []
    sequence = "mels_t"  # (time, batch, channels): ONNX's LSTM layout
    nodes.append(helper.make_node("Transpose", ["mels"], [sequence], perm=[1, 0, 2]))
    for layer in range(LAYERS):
        w = _onnx_gates(state[f"lstm.weight_ih_l{layer}"])[None]
        r = _onnx_gates(state[f"lstm.weight_hh_l{layer}"])[None]
        b = np.concatenate(
            [
                _onnx_gates(state[f"lstm.bias_ih_l{layer}"][:, None])[:, 0],
                _onnx_gates(state[f"lstm.bias_hh_l{layer}"][:, None])[:, 0],
            ]
        )[None]
        for name, value in (("W", w), ("R", r), ("B", b)):
            weights.append(numpy_helper.from_array(value.astype(np.float32), f"{name}{layer}"))
        nodes.append(
            helper.make_node(
                "LSTM",
                [sequence, f"W{layer}", f"R{layer}", f"B{layer}"],
                [f"y{layer}", f"h{layer}"],
                hidden_size=HIDDEN,
            )
        )
        # Y is (time, directions, batch, hidden): the next layer's input drops directions.
        nodes.append(helper.make_node("Squeeze", [f"y{layer}", "axis1"], [f"seq{layer}"]))
        sequence = f"seq{layer}"
    weights.append(numpy_helper.from_array(np.array([1], np.int64), "axis1"))
    weights.append(numpy_helper.from_array(np.array([0], np.int64), "axis0"))
    weights.append(numpy_helper.from_array(state["linear.weight"], "proj_w"))
    weights.append(numpy_helper.from_array(state["linear.bias"], "proj_b"))
    last = f"h{LAYERS - 1}"
    nodes += [
        helper.make_node("Squeeze", [last, "axis0"], ["hidden"]),
        helper.make_node("Gemm", ["hidden", "proj_w", "proj_b"], ["raw"], transB=1),
        helper.make_node("Relu", ["raw"], ["positive"]),
        helper.make_node("LpNormalization", ["positive"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "speaker-encoder",
        [helper.make_tensor_value_info("mels", TensorProto.FLOAT, [None, None, N_MELS])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [None, HIDDEN])],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def test_the_numpy_port_computes_what_onnxruntime_computes() -> None:
    weights = default_path()
    assert weights.is_file(), "make install puts the speaker model there"
    state = read_state(weights)
    session = ort.InferenceSession(encoder_graph(state), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    # Mel power values as speech gives them after the -30 dBFS gain: mostly small, some large.
    mels = (rng.gamma(0.5, 2.0, size=(5, 160, N_MELS)) ** 2).astype(np.float32)
    expected = session.run(["embedding"], {"mels": mels})[0]
    ported = SpeakerEncoder(weights).forward(mels)
    assert ported.shape == (5, HIDDEN)
    np.testing.assert_allclose(ported, expected, rtol=0, atol=2e-5)
    assert np.allclose(np.linalg.norm(ported, axis=1), 1.0, atol=1e-5)
