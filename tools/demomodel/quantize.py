#!/usr/bin/python3
"""quantize.py: int8 weights with dynamic int8 activations for the Gemm-form demo model.

    /usr/bin/python3 tools/demomodel/quantize.py IN.onnx OUT.onnx [--mode row|tensor] [--weight-bits 8|7]

export.py calls quantize() with --quant; this command rewrites an existing model.onnx.
Every Gemm whose weight (input B, an initializer [K, N], not transposed) has N >= 64
columns is replaced by plain ONNX operators that ONNX Runtime's CPU provider runs with
its integer GEMM (MatMulInteger, uint8 activations x int8 weights); the small CTC head
(N = vocabulary) stays fp32 unless --head.

Weights: symmetric, one scale per output column, s_w[n] = max_k |W[k, n]| / Q,
Wq = round(W / s_w) in [-Q, Q] with Q = 127 (8 bits) or 63 (7 bits: with U8S8 on x86
CPUs without VNNI, ONNX Runtime's AVX2 kernel adds pairs of uint8 x int8 products in
int16 and can saturate; 7-bit weights cannot).

Activations, per call (dynamic):
  row     one symmetric scale per row (one frame of one stream): m = max |x| over the
          row, q = floor(x * 127 / m + 128.5) in [1, 255] as uint8 with zero point 128,
          y = MatMulInteger(q, Wq, 128) * m * (s_w / 127) + b. A row's result depends on
          that row alone, so batching streams, or not, gives bit-identical outputs.
  tensor  DynamicQuantizeLinear (one asymmetric scale for the whole [rows, K] input),
          y = MatMulInteger(q, Wq, zp) * (s_x * s_w) + b: the pattern ONNX Runtime fuses
          into one DynamicQuantizeMatMul. The scale is shared by all the streams of a
          call, so a stream's output depends on the others batched with it.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize(model, mode="row", weight_bits=8, head=False, min_cols=64, contrib=False, block=32, accuracy=4):
    """Rewrite model's Gemms in place (see the module doc); returns how many."""
    assert mode in ("row", "tensor", "nbits"), mode
    qmax = {8: 127, 7: 63}[weight_bits]
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    nodes, done, used = [], 0, set()
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        w = inits.get(n.input[1]) if n.op_type == "Gemm" and len(n.input) > 1 else None
        ok = (w is not None and len(w.dims) == 2 and not attrs.get("transA", 0)
              and not attrs.get("transB", 0) and attrs.get("alpha", 1.0) == 1.0
              and attrs.get("beta", 1.0) == 1.0 and (len(n.input) < 3 or n.input[2] in inits))
        if not ok or (w.dims[1] < min_cols and not head) or w.dims[1] < 1:
            nodes.append(n)
            continue
        W = numpy_helper.to_array(w).astype(np.float64)
        if mode == "nbits":
            k, nn = W.shape
            nb = -(-k // block)
            Wp = np.zeros((nb * block, nn))
            Wp[:k] = W
            Wb = Wp.T.reshape(nn, nb, block)                              # [N, blocks, block]
            sb = np.abs(Wb).max(axis=2) / qmax
            sb[sb == 0] = 1.0
            Bq = (np.clip(np.round(Wb / sb[:, :, None]), -qmax, qmax) + 128).astype(np.uint8)
            p = n.name.strip("/").replace("/", "_") or f"gemm{done}"
            g.initializer.append(numpy_helper.from_array(Bq, p + "_bq"))
            g.initializer.append(numpy_helper.from_array(sb.astype(np.float32), p + "_scales"))
            ins = [n.input[0], p + "_bq", p + "_scales"]
            if len(n.input) > 2:
                ins += ["", "", n.input[2]]
            nodes.append(helper.make_node("MatMulNBits", ins, [n.output[0]], name=p + "/MatMulNBits",
                                          domain="com.microsoft", K=k, N=nn, bits=8, block_size=block,
                                          accuracy_level=accuracy))
            used.add(n.input[1])
            done += 1
            continue
        sw = np.abs(W).max(axis=0) / qmax
        sw[sw == 0] = 1.0
        Wq = np.clip(np.round(W / sw), -qmax, qmax).astype(np.int8)
        p = n.name.strip("/").replace("/", "_") or f"gemm{done}"
        x, y = n.input[0], n.output[0]
        used.add(n.input[1])

        def init(name, arr):
            g.initializer.append(numpy_helper.from_array(arr, p + "_" + name))
            return p + "_" + name

        def node(op, ins, out=None, **kw):
            out = out or f"{p}_{op.lower()}{len(nodes)}"
            nodes.append(helper.make_node(op, ins, [out], name=f"{p}/{op}_{len(nodes)}", **kw))
            return out

        wq = init("wq", Wq)
        if mode == "row":
            m = node("ReduceMax", [node("Abs", [x])], axes=[-1], keepdims=1)   # [rows, 1]
            m = node("Max", [m, init("eps", np.array(1e-12, np.float32))])
            inv = node("Div", [init("q127", np.array(127.0, np.float32)), m])
            q = node("Add", [node("Mul", [x, inv]), init("off", np.array(128.5, np.float32))])
            q = node("Cast", [q], to=TensorProto.UINT8)                      # floor: round half up
            zp = init("zp", np.array(128, np.uint8))
            if contrib:
                # acc * s_w / 127 in one kernel, then the row scale
                yf = node("MatMulIntegerToFloat", [q, wq, init("one", np.array(1.0, np.float32)),
                                                   init("ws", (sw / 127.0).astype(np.float32)), zp],
                          domain="com.microsoft")
                ws = m
            else:
                acc = node("MatMulInteger", [q, wq, zp])
                yf = node("Mul", [node("Cast", [acc], to=TensorProto.FLOAT), m])
                ws = init("ws", (sw / 127.0).astype(np.float32))
        else:
            dq = [f"{p}_xq", f"{p}_xs", f"{p}_xzp"]
            nodes.append(helper.make_node("DynamicQuantizeLinear", [x], dq, name=f"{p}/DynamicQuantizeLinear"))
            acc = node("MatMulInteger", [dq[0], wq, dq[2]])
            yf = node("Cast", [acc], to=TensorProto.FLOAT)
            ws = node("Mul", [dq[1], init("ws", sw.astype(np.float32))])
        if len(n.input) > 2:
            yf = node("Mul", [yf, ws])
            node("Add", [yf, n.input[2]], out=y)
        else:
            node("Mul", [yf, ws], out=y)
        done += 1
    del g.node[:]
    g.node.extend(nodes)
    # drop the fp32 weights nothing reads any more
    still = {i for nd in g.node for i in nd.input}
    keep = [i for i in g.initializer if i.name not in used or i.name in still]
    del g.initializer[:]
    g.initializer.extend(keep)
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--mode", choices=["row", "tensor", "nbits"], default="row")
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--accuracy", type=int, default=4)
    ap.add_argument("--weight-bits", type=int, choices=[8, 7], default=8)
    ap.add_argument("--head", action="store_true", help="quantise the CTC head too")
    ap.add_argument("--contrib", action="store_true",
                    help="row mode: ONNX Runtime's com.microsoft MatMulIntegerToFloat instead of MatMulInteger, Cast, Mul")
    a = ap.parse_args()
    m = onnx.load(a.inp)
    k = quantize(m, a.mode, a.weight_bits, a.head, contrib=a.contrib, block=a.block, accuracy=a.accuracy)
    if a.contrib or a.mode == "nbits":
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.checker.check_model(m)
    onnx.save(m, a.out)
    print(f"quantised {k} Gemms ({a.mode}, {a.weight_bits}-bit weights) -> {a.out}")


if __name__ == "__main__":
    main()
