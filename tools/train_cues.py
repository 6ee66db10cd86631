#!/usr/bin/env python3
"""Trains the cue combiner: a per-pixel classifier (background / skin / hair) over the cues
analyze() computes at work size (colour absolute and relative to the photo's skin, at three
scales; texture; orientation coherence; the hand-made priors; the EM posterior; GrabCut's head
mask; position in the frame and in the head). It is a 1x1-convolution MLP followed by a small
3x3 smoothing head, exported as ONNX for OpenCV's DNN module (models/smp_cues.onnx).

Usage (Debian's python3-torch, python3-opencv, python3-onnx; /usr/bin/python3):
  build/smp_dump_cues ../shared/data/scalps/images ../shared/data/scalps/masks /tmp/cues
  # by-person cross-validation (held-out IoU at work size, against the cue set's own
  # old decision rule on the same pixels):
  /usr/bin/python3 tools/train_cues.py --cues /tmp/cues --cv 4
  # final model on all photos:
  /usr/bin/python3 tools/train_cues.py --cues /tmp/cues --out models/smp_cues.onnx
"""
import argparse
import glob
import os
import random

import cv2
import numpy as np
import torch
import torch.nn as nn

from train_segmenter import person_key

HIDDEN = (32, 24)
CROP = 192


class Net(nn.Module):
    def __init__(self, cues):
        super().__init__()
        h1, h2 = HIDDEN
        self.mlp = nn.Sequential(nn.Conv2d(cues, h1, 1), nn.ReLU(), nn.Conv2d(h1, h2, 1), nn.ReLU())
        # Spatial context: a 5x5 look at the neighbours' hidden features (dilated 3x3).
        self.ctx = nn.Sequential(nn.Conv2d(h2, h2, 3, padding=2, dilation=2), nn.ReLU())
        self.out = nn.Conv2d(2 * h2, 3, 1)

    def forward(self, x):
        h = self.mlp(x)
        return self.out(torch.cat([h, self.ctx(h)], 1))


def load(folder):
    items = []
    for path in sorted(glob.glob(os.path.join(folder, "*.cues"))):
        stem = os.path.basename(path)[:-5]
        raw = np.fromfile(path, dtype=np.int32, count=3)
        h, w, f = (int(v) for v in raw)
        x = np.fromfile(path, dtype=np.float32, offset=12).reshape(h, w, f)
        m = cv2.imread(os.path.join(folder, stem + ".png"), cv2.IMREAD_UNCHANGED)
        items.append(dict(stem=stem, person=person_key(stem),
                          x=torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))),
                          m=torch.from_numpy(m.astype(np.int64))))
    return items


def old_rule(item):
    # The hand-made decision the combiner replaces: GrabCut head (cue 20), EM posterior (19).
    x = item["x"]
    head = x[20] > 0.5
    hair = x[19] > 0.5
    return torch.where(head, torch.where(hair, 2, 1), 0)


def confusion(cm, truth, pred):
    v = truth != 255
    cm += np.bincount((truth[v] * 3 + pred[v]).numpy(), minlength=9).reshape(3, 3)


def ious(cm):
    return [cm[k, k] / max(1, cm[k].sum() + cm[:, k].sum() - cm[k, k]) for k in range(3)]


def train(items, epochs, seed, lr=3e-3):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    net = Net(items[0]["x"].shape[0])
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    steps = epochs * len(items)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    lossf = nn.CrossEntropyLoss(ignore_index=255, weight=torch.tensor([1.0, 1.0, 1.3]))
    order = []
    for _ in range(epochs):
        o = list(range(len(items)))
        rng.shuffle(o)
        order += o
    for i in range(0, len(order), 4):
        batch = [items[j] for j in order[i:i + 4]]
        loss = 0
        for it in batch:
            x, m = it["x"], it["m"]
            # A random CROP x CROP window: 5x cheaper than the whole photo, same statistics.
            h, w = m.shape
            y0, x0 = rng.randrange(max(1, h - CROP + 1)), rng.randrange(max(1, w - CROP + 1))
            x, m = x[:, y0:y0 + CROP, x0:x0 + CROP], m[y0:y0 + CROP, x0:x0 + CROP]
            if rng.random() < 0.5:  # mirror: cue 22 is x in -1..1, mirrored with the image
                x = torch.flip(x, [2]).clone()
                x[22] = -x[22]
                m = torch.flip(m, [1])
            loss = loss + lossf(net(x[None]), m[None])
        opt.zero_grad()
        (loss / len(batch)).backward()
        opt.step()
        for _ in batch:
            if sched.last_epoch < steps - 1:
                sched.step()
    return net


def predict(net, item):
    with torch.no_grad():
        return net(item["x"][None])[0].argmax(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cues", required=True)
    ap.add_argument("--cv", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    items = load(a.cues)
    print(f"{len(items)} photos, {items[0]['x'].shape[0]} cues")
    if a.cv:
        persons = sorted({s["person"] for s in items})
        random.Random(a.seed).shuffle(persons)
        fold_of = {p: i % a.cv for i, p in enumerate(persons)}
        cm_new, cm_old = np.zeros((3, 3), np.int64), np.zeros((3, 3), np.int64)
        for k in range(a.cv):
            tr = [s for s in items if fold_of[s["person"]] != k]
            te = [s for s in items if fold_of[s["person"]] == k]
            net = train(tr, a.epochs, a.seed)
            fold = np.zeros((3, 3), np.int64)
            for s in te:
                confusion(fold, s["m"], predict(net, s))
                confusion(cm_old, s["m"], old_rule(s))
            cm_new += fold
            print(f"fold {k}: held-out IoU {np.round(ious(fold), 3)} mIoU {np.mean(ious(fold)):.3f}", flush=True)
        for name, cm in (("old rule", cm_old), ("combiner", cm_new)):
            i = ious(cm)
            print(f"{name}: bg {i[0]:.3f} skin {i[1]:.3f} hair {i[2]:.3f} mIoU {np.mean(i):.3f}")
    if a.out:
        net = train(items, a.epochs, a.seed)
        net.eval()
        cm = np.zeros((3, 3), np.int64)
        for s in items:
            confusion(cm, s["m"], predict(net, s))
        print(f"trained on all, on its own data: mIoU {np.mean(ious(cm)):.3f}")
        x = items[0]["x"][None]
        torch.onnx.export(net, x, a.out, opset_version=11, input_names=["cues"],
                          output_names=["logits"], do_constant_folding=True,
                          dynamic_axes={"cues": {2: "h", 3: "w"}, "logits": {2: "h", 3: "w"}})
        cvnet = cv2.dnn.readNetFromONNX(a.out)
        cvnet.setInput(x.numpy())
        err = np.abs(cvnet.forward() - net(x).detach().numpy()).max()
        print(f"wrote {a.out}; OpenCV DNN vs PyTorch max |logit difference| {err:.2e}")


if __name__ == "__main__":
    main()
