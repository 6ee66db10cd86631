#!/usr/bin/env python3
"""Trains the head-orientation net: which way the top of the head points in a photo (up, left,
down, right). analyze() needs it because its treatable-scalp rule and its "head cut off" check
take the neck and face to be at the bottom; photos turned by a quarter or half turn (top-down
crowns taken from any side, photos whose rotation flag was lost) otherwise get the crown cut as
"face" and the face kept as "scalp".

Self-supervised: every photo of ../shared/data/scalps tagged "upright" in index.csv is shown
turned by 0, 1, 2 and 3 quarter turns counter-clockwise, and the class is the number of turns.
The input is what analyze() has at hand: the photo at work size and its classical skin / hair
labels, both squeezed to 64 x 64 (5 channels: RGB / 255, skin, hair). A small CNN (4 conv blocks,
~28k parameters) exported as ONNX for OpenCV's DNN module (models/smp_orientation.onnx).

Usage (Debian's python3-torch, python3-opencv, python3-onnx; /usr/bin/python3):
  # by-person 4-fold cross-validation (held-out accuracy, and what a confidence gate buys):
  /usr/bin/python3 tools/train_orientation.py --smp build/smp --scalps ../shared/data/scalps --cv 4
  # final model on all upright photos:
  /usr/bin/python3 tools/train_orientation.py --smp build/smp --scalps ../shared/data/scalps \
      --out models/smp_orientation.onnx
The labels come from `smp analyze` (classical segmenter), cached in --cache.
"""
import argparse
import csv
import os
import random
import subprocess

import cv2
import numpy as np
import torch
import torch.nn as nn

from train_segmenter import person_key

SIDE = 64          # the net's input side
WORK = 384         # AnalyzeOptions::work_size: analyze() squeezes its work-size copy to SIDE


def work_size(w, h):
    s = WORK / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def load(photo, labels):
    """5 x SIDE x SIDE input as analyze() builds it: RGB at work size (area), labels nearest."""
    bgr = cv2.imread(photo)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    ws = work_size(rgb.shape[1], rgb.shape[0])
    small = cv2.resize(rgb, ws, interpolation=cv2.INTER_AREA)
    small = cv2.resize(small, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    lab = cv2.imread(labels, cv2.IMREAD_UNCHANGED)
    lab = cv2.resize(lab, ws, interpolation=cv2.INTER_NEAREST)
    lab = cv2.resize(lab, (SIDE, SIDE), interpolation=cv2.INTER_NEAREST)
    onehot = np.stack([(lab == k).astype(np.float32) for k in (1, 2)], -1)
    return np.concatenate([small, onehot], -1)  # H x W x 5


class Net(nn.Module):
    def __init__(self, channels=5):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.features = nn.Sequential(block(channels, 16), block(16, 24), block(24, 32),
                                      block(32, 48))  # 4 x 4
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(48 * 16, 4))

    def forward(self, x):
        return self.head(self.features(x))


def augment(x, rng):
    # Mirror (keeps "up"), a small tilt, zoom and shift, and exposure.
    if rng.random() < 0.5:
        x = x[:, ::-1]
    m = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), rng.uniform(-20, 20), rng.uniform(0.85, 1.15))
    m[:, 2] += [rng.uniform(-4, 4), rng.uniform(-4, 4)]
    x = cv2.warpAffine(np.ascontiguousarray(x), m, (SIDE, SIDE), borderMode=cv2.BORDER_REFLECT)
    x[..., :3] = np.clip(x[..., :3] * rng.uniform(0.7, 1.3) + rng.uniform(-0.1, 0.1), 0, 1)
    return x


def turned(x, k):
    """x turned k quarter turns counter-clockwise, as a C x H x W array."""
    return np.ascontiguousarray(np.rot90(x, k)).transpose(2, 0, 1)


def train(data, idx, epochs, seed):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), 2e-3, weight_decay=1e-4)
    idx = list(idx)
    for _ in range(epochs):
        net.train()
        rng.shuffle(idx)
        for b in range(0, len(idx), 16):
            xs, ys = [], []
            for i in idx[b:b + 16]:
                k = rng.randrange(4)
                xs.append(turned(augment(data[i], rng), k))
                ys.append(k)
            loss = nn.functional.cross_entropy(net(torch.tensor(np.array(xs))), torch.tensor(ys))
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


def probabilities(net, x):
    with torch.no_grad():
        return net(torch.tensor(np.array([turned(x, k) for k in range(4)]))).softmax(1).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smp", required=True, help="the smp binary (labels come from smp analyze)")
    ap.add_argument("--scalps", required=True)
    ap.add_argument("--cache", default="/tmp/smp-orientation-labels")
    ap.add_argument("--cv", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.cache, exist_ok=True)

    with open(os.path.join(a.scalps, "index.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["orientation"] == "upright"]
    data, persons, views = [], [], []
    for n, r in enumerate(rows):
        photo = os.path.join(a.scalps, "images", r["file"])
        labels = os.path.join(a.cache, os.path.splitext(r["file"])[0] + ".png")
        if not os.path.exists(labels):
            subprocess.run([a.smp, "analyze", photo, "--labels", labels], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data.append(load(photo, labels))
        persons.append(person_key(os.path.splitext(r["file"])[0]))
        views.append(r["view"])
        if (n + 1) % 25 == 0 or n + 1 == len(rows):
            print(f"loaded {n + 1}/{len(rows)} upright photos", flush=True)

    if a.cv:
        keys = sorted(set(persons))
        random.Random(a.seed).shuffle(keys)
        probs = np.zeros((len(data), 4, 4), np.float32)  # photo, true turn, class
        for k in range(a.cv):
            held = set(keys[k::a.cv])
            net = train(data, [i for i in range(len(data)) if persons[i] not in held], a.epochs,
                        a.seed)
            te = [i for i in range(len(data)) if persons[i] in held]
            for i in te:
                probs[i] = probabilities(net, data[i])
            acc = np.mean([probs[i].argmax(1) == np.arange(4) for i in te])
            print(f"fold {k}: held-out accuracy {acc:.3f} ({len(te)} photos x 4 turns)", flush=True)
        hit = probs.argmax(2) == np.arange(4)[None]
        print(f"held-out accuracy {hit.mean():.3f}")
        for v in sorted(set(views)):
            sel = np.array(views) == v
            print(f"  {v}: {hit[sel].mean():.3f} ({sel.sum()} photos)")
        # What analyze() does: turn only when the top class is confident.
        for gate in (0.5, 0.8, 0.9, 0.95, 0.98):
            best, conf = probs.argmax(2), probs.max(2)
            acted = (best != 0) & (conf >= gate)
            final = np.where(acted, best, 0)
            print(f"  gate {gate:.2f}: upright photos turned wrongly {acted[:, 0].mean():.3f}, "
                  f"turned photos righted {(final == np.arange(4))[:, 1:].mean():.3f}, "
                  f"wrong turns among turns {(final != np.arange(4))[acted].mean():.3f}")
    if a.out:
        net = train(data, range(len(data)), a.epochs, a.seed)
        x = torch.tensor(np.array([turned(data[0], 0)]))
        torch.onnx.export(net, x, a.out, opset_version=11, input_names=["photo"],
                          output_names=["logits"], do_constant_folding=True)
        cvnet = cv2.dnn.readNetFromONNX(a.out)
        cvnet.setInput(x.numpy())
        err = np.abs(cvnet.forward() - net(x).detach().numpy()).max()
        print(f"wrote {a.out}; OpenCV DNN vs PyTorch max |logit difference| {err:.2e}")


if __name__ == "__main__":
    main()
