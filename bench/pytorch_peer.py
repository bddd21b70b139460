#!/usr/bin/env python3
"""The PyTorch peer of bench/speed (issue 3): the same two models as xnas's `nao` and
`rl-controller`, written in PyTorch, timed on the same data shapes.

* `nao-epoch`: one training epoch of NAO's encoder + predictor + attention decoder
  (renqianluo/NAO_pytorch NAO_V1 encoder.py, decoder.py, train_search.py: joint loss
  α·MSE + (1−α)·NLL, Adam, global-norm clip 5) over N
  observations in mini-batches.
* `ppo-update`: one PPO update of the NASNet controller (Zoph et al. 2018; MarSaKi/nasnet PPO.py): re-score M sequences with the
  LSTM controller (teacher forcing), clipped ratio objective with entropy bonus, K epochs, Adam.

Prints one JSON line per measurement: {"peer": "pytorch", "what", "median_ms", "runs", ...}.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Nao(nn.Module):
    def __init__(self, vocab, emb, hidden, mlp, dropout=0.0):
        super().__init__()
        self.enc_emb = nn.Embedding(vocab, emb)
        self.enc = nn.LSTM(emb, hidden, batch_first=True)
        layers, width = [], hidden
        for h in mlp:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.predictor = nn.Sequential(*layers)
        self.dec_emb = nn.Embedding(vocab, hidden)
        self.dec = nn.LSTM(hidden, hidden, batch_first=True)
        self.w_in = nn.Linear(hidden, hidden, bias=False)
        self.w_out = nn.Linear(2 * hidden, hidden, bias=False)
        self.vocab = nn.Linear(hidden, vocab)

    def forward(self, x, dec_in):
        e = self.enc_emb(x)
        out, _ = self.enc(e)
        out = F.normalize(out, dim=-1)
        arch = F.normalize(out.mean(1), dim=-1)
        pred = torch.sigmoid(self.predictor(arch))
        state = (arch.unsqueeze(0).contiguous(), arch.unsqueeze(0).contiguous())
        o, _ = self.dec(self.dec_emb(dec_in), state)
        q = self.w_in(o)
        att = torch.softmax(torch.bmm(q, out.transpose(1, 2)), dim=-1)
        ctx = torch.bmm(att, out)
        u = torch.tanh(self.w_out(torch.cat([ctx, o], dim=-1)))
        return pred.squeeze(1), F.log_softmax(self.vocab(u), dim=-1)


def nao_epoch(args):
    g = torch.Generator().manual_seed(0)
    n, L, V = args.observations, args.length, args.vocab
    x = torch.randint(1, V, (n, L), generator=g)
    y = torch.rand(n, generator=g)
    model = Nao(V, args.emb, args.hidden, args.mlp)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)

    def epoch():
        model.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = x[idx], y[idx]
            dec_in = torch.cat([torch.zeros(len(idx), 1, dtype=torch.long), xb[:, :-1]], 1)
            pred, logp = model(xb, dec_in)
            loss = 0.8 * F.mse_loss(pred, yb) + 0.2 * F.nll_loss(logp.reshape(-1, V), xb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()

    return time_it(epoch, args.runs)


class Controller(nn.Module):
    def __init__(self, choices, hidden, temperature=5.0, tanh_c=2.5):
        super().__init__()
        self.choices = choices
        offsets, total = [], 0
        for c in choices:
            offsets.append(total)
            total += c
        self.offsets = offsets
        self.emb = nn.Embedding(total, hidden)
        self.go = nn.Parameter(torch.zeros(1, hidden))
        self.cell = nn.LSTMCell(hidden, hidden)
        # One output layer per decision group, as xnas's controller asks one head per group:
        # node inputs (even positions) and ops (odd positions) on NASNet cells.
        self.heads = nn.ModuleList([nn.Linear(hidden, max(choices[0::2])), nn.Linear(hidden, max(choices[1::2]))])
        self.t, self.c = temperature, tanh_c
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def score(self, seqs):
        """log π(seq) and entropy for a batch of decision sequences [M, T]."""
        m = seqs.shape[0]
        h = torch.zeros(m, self.go.shape[1])
        c = torch.zeros_like(h)
        inp = self.go.expand(m, -1)
        logp = torch.zeros(m)
        ent = torch.zeros(m)
        for t, k in enumerate(self.choices):
            h, c = self.cell(inp, (h, c))
            logits = self.heads[t % 2](h)[:, :k] / self.t
            logits = self.c * torch.tanh(logits)
            lp = F.log_softmax(logits, dim=-1)
            a = seqs[:, t]
            logp = logp + lp.gather(1, a.unsqueeze(1)).squeeze(1)
            ent = ent - (lp.exp() * lp).sum(1)
            inp = self.emb(a + self.offsets[t])
        return logp, ent


def ppo_update(args):
    g = torch.Generator().manual_seed(0)
    choices = [int(c) for c in args.choices.split(",")]
    ctrl = Controller(choices, args.controller_hidden)
    opt = torch.optim.Adam(ctrl.parameters(), lr=3.5e-4)
    seqs = torch.stack([torch.randint(0, k, (args.archs,), generator=g) for k in choices], 1)
    with torch.no_grad():
        old, _ = ctrl.score(seqs)
    adv = torch.randn(args.archs, generator=g)

    def update():
        for _ in range(args.ppo_epochs):
            logp, ent = ctrl.score(seqs)
            ratio = torch.exp(logp - old)
            obj = torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv)
            loss = -obj.mean() - 1e-5 * ent.mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(ctrl.parameters(), 5.0)
            opt.step()

    return time_it(update, args.runs)


def time_it(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), times


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["nao-epoch", "ppo-update"])
    ap.add_argument("--observations", type=int, default=1000)
    ap.add_argument("--length", type=int, default=40)
    ap.add_argument("--vocab", type=int, default=12)
    ap.add_argument("--emb", type=int, default=48)
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--mlp", default="64,64")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--choices", default=",".join(["2", "5", "2", "5", "3", "5", "3", "5", "4", "5", "4", "5",
                                                    "5", "5", "5", "5", "6", "5", "6", "5"] * 2))
    ap.add_argument("--controller-hidden", type=int, default=100)
    ap.add_argument("--archs", type=int, default=20)
    ap.add_argument("--ppo-epochs", type=int, default=4)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--space", default="nasnet-cells-40", help="label copied to the output")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    args.mlp = [int(h) for h in args.mlp.split(",") if h]
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    median, times = nao_epoch(args) if args.what == "nao-epoch" else ppo_update(args)
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "what": args.what, "space": args.space, "median_ms": round(median, 3),
                      "runs": [round(t, 3) for t in times], "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
