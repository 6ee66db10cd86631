#!/usr/bin/python3
"""Trains smp's background / skin / hair segmenter and exports it to ONNX.

A small U-Net-like fully convolutional net (see Net below) trained from scratch on CPU:
  * the 72 hand-made masks of the scalp data set (CC BY 4.0, "hair-loss dataset by uze,
    Roboflow Universe"; labels 0 bg, 1 skin, 2 hair, 255 ignore), and
  * phantoms rendered by the project's own `smp synth` (ground truth from the renderer).
FASSEG is never used for training: it stays an honest held-out test.

Usage (Debian's python3-torch, python3-opencv, python3-onnx; /usr/bin/python3):
  tools/gen_phantoms.sh build/smp /tmp/smp-phantoms 240
  /usr/bin/python3 tools/train_segmenter.py --scalps ../shared/data/scalps \
      --phantoms /tmp/smp-phantoms --out models/smp_segmenter.onnx
  # by-person cross-validation (prints held-out IoU per fold and pooled):
  /usr/bin/python3 tools/train_segmenter.py ... --cv 4 --steps 1200

Everything is seeded; with the same data, steps and seed the weights are reproducible on the
same PyTorch build (CPU kernels are deterministic here; threads fixed to --threads).
"""
import argparse
import csv
import glob
import math
import os
import random
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

IN_SIZE = 256  # network input (the photo is stretched to a square, like the scalp set)
MEAN, STD = 127.5, 64.0  # input normalisation: (rgb - 127.5) / 64, same in C++
PRELOAD = 384


# ----------------------------------------------------------------------------- model
def cbr(cin, cout, stride=1, dil=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dil, dilation=dil, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Net(nn.Module):
    """Encoder at strides 2..32 with a pooled global-context branch, nearest-upsampling decoder
    with skip connections; 3-class logits at half the input resolution (128x128)."""

    def __init__(self, w=(16, 32, 64, 96, 128)):
        super().__init__()
        self.e1 = nn.Sequential(cbr(3, w[0], 2), cbr(w[0], w[0]))            # /2
        self.e2 = nn.Sequential(cbr(w[0], w[1], 2), cbr(w[1], w[1]))         # /4
        self.e3 = nn.Sequential(cbr(w[1], w[2], 2), cbr(w[2], w[2]))         # /8
        self.e4 = nn.Sequential(cbr(w[2], w[3], 2), cbr(w[3], w[3]), cbr(w[3], w[3], dil=2))  # /16
        self.e5 = nn.Sequential(cbr(w[3], w[4], 2), cbr(w[4], w[4]), cbr(w[4], w[4], dil=2))  # /32
        self.ctx = nn.Sequential(nn.Conv2d(w[4], w[4], 1), nn.ReLU(inplace=True))
        self.d4 = cbr(w[4] + w[3], w[3])
        self.d3 = cbr(w[3] + w[2], w[2])
        self.d2 = cbr(w[2] + w[1], w[1])
        self.d1 = nn.Sequential(cbr(w[1] + w[0], w[0]), cbr(w[0], w[0]))
        self.head = nn.Conv2d(w[0], 3, 1)

    @staticmethod
    def up(x):
        return F.interpolate(x, scale_factor=2.0, mode="nearest")

    def forward(self, x):
        x1 = self.e1(x)
        x2 = self.e2(x1)
        x3 = self.e3(x2)
        x4 = self.e4(x3)
        x5 = self.e5(x4)
        g = self.ctx(torch.mean(x5, dim=(2, 3), keepdim=True))  # whole-photo context
        x5 = x5 + g
        y = self.d4(torch.cat([self.up(x5), x4], 1))
        y = self.d3(torch.cat([self.up(y), x3], 1))
        y = self.d2(torch.cat([self.up(y), x2], 1))
        y = self.d1(torch.cat([self.up(y), x1], 1))
        return self.head(y)


# ----------------------------------------------------------------------------- data
def person_key(stem):
    # level_L_NNN_view: NNN numbers the person within a level (index.csv photo_number).
    p = stem.split("_")
    return p[1] + "_" + p[2]


def load_scalps(root):
    items = []
    for mpath in sorted(glob.glob(os.path.join(root, "masks", "*.png"))):
        stem = os.path.splitext(os.path.basename(mpath))[0]
        ipath = os.path.join(root, "images", stem + ".jpg")
        img = cv2.cvtColor(cv2.imread(ipath, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        m = cv2.imread(mpath, cv2.IMREAD_UNCHANGED)
        items.append(dict(stem=stem, person=person_key(stem), full=img, full_mask=m,
                          img=cv2.resize(img, (PRELOAD, PRELOAD), interpolation=cv2.INTER_AREA),
                          mask=cv2.resize(m, (PRELOAD, PRELOAD), interpolation=cv2.INTER_NEAREST)))
    return items


def load_phantoms(folder):
    items = []
    for lpath in sorted(glob.glob(os.path.join(folder, "*_lab.png"))):
        ipath = lpath.replace("_lab.png", ".png")
        if not os.path.exists(ipath):
            continue
        img = cv2.cvtColor(cv2.imread(ipath, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        m = cv2.imread(lpath, cv2.IMREAD_UNCHANGED)
        items.append(dict(img=cv2.resize(img, (PRELOAD, PRELOAD), interpolation=cv2.INTER_AREA),
                          mask=cv2.resize(m, (PRELOAD, PRELOAD), interpolation=cv2.INTER_NEAREST)))
    return items


def augment(img, mask, rng):
    """Geometry (90-degree turns, flips, small rotation, scale, aspect, shift), then colour:
    hair recoloured grey/blond/red/black, skin tone shifts, white balance, gamma, blur, noise,
    JPEG. Returns uint8 RGB IN_SIZE^2 and uint8 labels."""
    h, w = mask.shape
    k = rng.randrange(4)
    img, mask = np.rot90(img, k), np.rot90(mask, k)
    if rng.random() < 0.5:
        img, mask = img[:, ::-1], mask[:, ::-1]
    img, mask = np.ascontiguousarray(img), np.ascontiguousarray(mask)
    s = math.exp(rng.uniform(math.log(0.8), math.log(1.6)))  # >1 zooms in
    ar = math.exp(rng.uniform(-0.3, 0.3))
    sx, sy = s * ar ** 0.5 * IN_SIZE / w, s / ar ** 0.5 * IN_SIZE / h
    ang = math.radians(rng.uniform(-20, 20)) if rng.random() < 0.5 else 0.0
    c, si = math.cos(ang), math.sin(ang)
    A = np.array([[c * sx, -si * sx], [si * sy, c * sy]])
    cx, cy = w / 2 + rng.uniform(-0.2, 0.2) * w, h / 2 + rng.uniform(-0.2, 0.2) * h
    t = np.array([IN_SIZE / 2, IN_SIZE / 2]) - A @ np.array([cx, cy])
    M = np.hstack([A, t[:, None]])
    pad = tuple(int(v) for v in np.clip(np.array([rng.gauss(150, 50) for _ in range(3)]), 0, 255))
    im = cv2.warpAffine(img, M, (IN_SIZE, IN_SIZE), flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=pad)
    mk = cv2.warpAffine(mask, M, (IN_SIZE, IN_SIZE), flags=cv2.INTER_NEAREST,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    f = im.astype(np.float32)
    hair = (mk == 2).astype(np.float32)
    skin = (mk == 1).astype(np.float32)
    soft = lambda m: cv2.GaussianBlur(m, (0, 0), 1.5)[..., None]
    # Hair recolouring: grey / blond / red / black (the labelled set is mostly dark hair).
    if rng.random() < 0.4 and hair.any():
        lum = f.mean(axis=2, keepdims=True)
        kind = rng.randrange(4)
        if kind == 0:    # grey / white
            tgt = 255 - (255 - lum) * rng.uniform(0.25, 0.7)
            new = np.repeat(tgt, 3, axis=2) + rng.uniform(-6, 6)
        elif kind == 1:  # blond
            tgt = 255 - (255 - lum) * rng.uniform(0.35, 0.7)
            new = tgt * np.array([1.0, 0.88, 0.65], np.float32)
        elif kind == 2:  # red
            tgt = np.clip(lum * rng.uniform(1.2, 2.0), 0, 220)
            new = tgt * np.array([1.0, 0.55, 0.35], np.float32)
        else:            # black
            new = f * rng.uniform(0.3, 0.6)
        a = soft(hair) * rng.uniform(0.7, 1.0)
        f = f * (1 - a) + new * a
    # Skin tone: darker or lighter skin (Fitzpatrick range), with a slight hue shift.
    if rng.random() < 0.4 and skin.any():
        g = rng.uniform(0.35, 1.25)
        tint = np.array([1.0, rng.uniform(0.9, 1.05), rng.uniform(0.85, 1.1)], np.float32)
        a = soft(skin)
        f = f * (1 - a) + np.clip(f * g * tint, 0, 255) * a
    # Global: white balance, brightness/contrast, saturation, gamma.
    f = f * np.array([rng.uniform(0.85, 1.15) for _ in range(3)], np.float32)
    f = (f - 128) * rng.uniform(0.7, 1.3) + 128 + rng.uniform(-30, 30)
    lum = f.mean(axis=2, keepdims=True)
    f = lum + (f - lum) * rng.uniform(0.5, 1.4)
    f = 255 * (np.clip(f, 0, 255) / 255) ** rng.uniform(0.7, 1.4)
    # Specular highlight on skin (shiny bald scalps).
    if rng.random() < 0.25 and skin.any():
        ys, xs = np.nonzero(skin)
        i = rng.randrange(len(ys))
        r = rng.uniform(8, 40)
        yy, xx = np.mgrid[0:IN_SIZE, 0:IN_SIZE]
        spot = np.exp(-((yy - ys[i]) ** 2 + (xx - xs[i]) ** 2) / (2 * r * r)).astype(np.float32)
        f = f + (spot * rng.uniform(60, 160))[..., None]
    f = np.clip(f, 0, 255)
    if rng.random() < 0.3:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.5, 1.8))
    if rng.random() < 0.3:
        f = f + np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(2, 10), f.shape)
    im = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, rng.randrange(35, 95)])
        im = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return im, mk


def to_tensor(batch_rgb):
    x = torch.from_numpy(np.stack(batch_rgb).astype(np.float32)).permute(0, 3, 1, 2)
    return (x - MEAN) / STD


# ----------------------------------------------------------------------------- eval
@torch.no_grad()
def predict_probs(net, rgb):
    """Probabilities (H, W, 3) at the photo's size, the way the C++ side computes them."""
    small = cv2.resize(rgb, (IN_SIZE, IN_SIZE), interpolation=cv2.INTER_AREA)
    logits = net(to_tensor([small]))
    p = torch.softmax(logits, 1)[0].permute(1, 2, 0).numpy()
    return cv2.resize(p, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)


def confusion(truth, pred):
    v = truth != 255
    return np.bincount(truth[v].astype(np.int64) * 3 + pred[v], minlength=9).reshape(3, 3)


def ious(cm):
    return [cm[i, i] / max(1, cm[i, :].sum() + cm[:, i].sum() - cm[i, i]) for i in range(3)]


def evaluate(net, items):
    net.eval()
    cm = np.zeros((3, 3), np.int64)
    for it in items:
        p = predict_probs(net, it["full"])
        cm += confusion(it["full_mask"], p.argmax(2).astype(np.uint8))
    return cm


def load_fasseg(root, folder="masks"):
    items = []
    for mpath in sorted(glob.glob(os.path.join(root, folder, "*.png"))):
        ipath = os.path.join(root, "images", os.path.basename(mpath))
        if not os.path.exists(ipath):
            continue
        img = cv2.cvtColor(cv2.imread(ipath, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        items.append(dict(full=img, full_mask=cv2.imread(mpath, cv2.IMREAD_UNCHANGED)))
    return items


# ----------------------------------------------------------------------------- train
def train(train_scalps, phantoms, steps, seed, threads, batch=12, log="", resume="", lr=3e-3):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    net = Net()
    if resume:  # a second cycle from saved weights (a warm restart), with its own seed
        net.load_state_dict(torch.load(resume))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    weight = torch.tensor([1.0, 1.0, 1.3])  # hair is the class the product depends on most
    t0 = time.time()
    net.train()
    for step in range(steps):
        xs, ys = [], []
        for _ in range(batch):
            src = rng.choice(phantoms) if phantoms and rng.random() < 0.2 else rng.choice(train_scalps)
            im, mk = augment(src["img"], src["mask"], rng)
            xs.append(im)
            ys.append(mk)
        x = to_tensor(xs)
        y = torch.from_numpy(np.stack(ys).astype(np.int64))
        logits = F.interpolate(net(x), size=(IN_SIZE, IN_SIZE), mode="bilinear",
                               align_corners=False)
        loss = F.cross_entropy(logits, y, weight=weight, ignore_index=255)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"{log}step {step}/{steps} loss {loss.item():.4f} "
                  f"{(time.time() - t0) / (step + 1):.2f} s/step", flush=True)
    net.eval()
    return net


def export_onnx(net, path):
    net.eval()
    x = torch.randn(1, 3, IN_SIZE, IN_SIZE)
    torch.onnx.export(net, x, path, opset_version=11, input_names=["rgb"],
                      output_names=["logits"], do_constant_folding=True)
    # Same output from OpenCV's DNN module (the C++ runtime) as from PyTorch.
    cvnet = cv2.dnn.readNetFromONNX(path)
    xin = torch.from_numpy(np.random.default_rng(1).uniform(-2, 2, (1, 3, IN_SIZE, IN_SIZE))
                           .astype(np.float32))
    with torch.no_grad():
        ref = net(xin).numpy()
    cvnet.setInput(xin.numpy())
    out = cvnet.forward()
    err = float(np.abs(out - ref).max())
    print(f"exported {path} ({os.path.getsize(path) / 1e6:.2f} MB); "
          f"OpenCV vs PyTorch max abs diff {err:.2e}")
    assert err < 1e-4 * max(1.0, float(np.abs(ref).max())), err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scalps", required=True)
    ap.add_argument("--phantoms", default="")
    ap.add_argument("--fasseg", default="", help="held-out test only, never trained on")
    ap.add_argument("--out", default="models/smp_segmenter.onnx")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", default="", help="start from these weights (.pt)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--cv", type=int, default=0, help="k-fold cross-validation by person")
    ap.add_argument("--folds", default="", help="comma list of folds to run (default all)")
    a = ap.parse_args()

    scalps = load_scalps(a.scalps)
    phantoms = load_phantoms(a.phantoms) if a.phantoms else []
    print(f"{len(scalps)} labelled scalp photos, {len(phantoms)} phantoms", flush=True)
    if a.cv:
        persons = sorted({s["person"] for s in scalps})
        random.Random(a.seed).shuffle(persons)
        fold_of = {p: i % a.cv for i, p in enumerate(persons)}
        folds = [int(f) for f in a.folds.split(",")] if a.folds else range(a.cv)
        total = np.zeros((3, 3), np.int64)
        for k in folds:
            tr = [s for s in scalps if fold_of[s["person"]] != k]
            te = [s for s in scalps if fold_of[s["person"]] == k]
            net = train(tr, phantoms, a.steps, a.seed, a.threads, log=f"fold {k}: ")
            cm = evaluate(net, te)
            total += cm
            iu = ious(cm)
            print(f"fold {k}: {len(te)} held-out photos ({len({s['person'] for s in te})} people)"
                  f" IoU bg {iu[0]:.4f} skin {iu[1]:.4f} hair {iu[2]:.4f} mIoU {np.mean(iu):.4f}",
                  flush=True)
            np.save(f"/tmp/smp_cv_fold{k}.npy", cm)
        iu = ious(total)
        print(f"CV pooled: IoU bg {iu[0]:.4f} skin {iu[1]:.4f} hair {iu[2]:.4f} "
              f"mIoU {np.mean(iu):.4f}")
        return
    net = train(scalps, phantoms, a.steps, a.seed, a.threads, resume=a.resume, lr=a.lr)
    torch.save(net.state_dict(), a.out + ".pt")
    iu = ious(evaluate(net, scalps))
    print(f"scalps (trained on): IoU bg {iu[0]:.4f} skin {iu[1]:.4f} hair {iu[2]:.4f} "
          f"mIoU {np.mean(iu):.4f}", flush=True)
    if a.fasseg:
        for folder in ("masks", "masks_nobrows"):
            iu = ious(evaluate(net, load_fasseg(a.fasseg, folder)))
            print(f"fasseg/{folder} (held out): IoU bg {iu[0]:.4f} skin {iu[1]:.4f} "
                  f"hair {iu[2]:.4f} mIoU {np.mean(iu):.4f}", flush=True)
    export_onnx(net, a.out)


if __name__ == "__main__":
    sys.exit(main())
