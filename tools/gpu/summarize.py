"""Markdown tables from one run of tools/gpu/measure.sh: the pre-training step per binary,
device and form next to PyTorch, and the per-op table. Standard library only.

    python3 tools/gpu/summarize.py results/gpu/run-<stamp>
"""
import json
import pathlib
import sys


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def fmt(v, digits=3):
    return '–' if v is None else f'{v:.{digits}f}'


def main():
    run = pathlib.Path(sys.argv[1])
    print(f'# GPU run {run.name}\n')
    env = run / 'env.txt'
    if env.exists():
        print('```\n' + env.read_text().strip() + '\n```\n')

    print('## Pre-training step (batch, projector as in each file)\n')
    print('| step | device | conv | BatchNorm | s/step | fwd s | bwd s | first step s '
          '| PyTorch s/step | asma / PyTorch speed |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    stems = sorted({f.stem for f in run.glob('pretrain_*.json')} |
                   {f.stem for f in run.glob('pretrain_*.err')})
    for f in (run / (s + '.json') for s in stems):
        v = load(f)
        if not v:
            err = (run / (f.stem + '.err'))
            last = err.read_text().strip().splitlines()[-1:] if err.exists() else []
            print(f'| {f.stem} | – | – | – | not measured: {" ".join(last)[:120]} | | | | | |')
            continue
        for form in v.get('asma_conv_forms', []):
            print(f'| {f.stem} | {v.get("device")} | {form.get("conv")} | {form.get("batch_norm")} '
                  f'| {fmt(form.get("seconds_per_step"))} | {fmt(form.get("forward_seconds"))} '
                  f'| {fmt(form.get("backward_seconds"))} | {fmt(form.get("first_step_seconds"))} '
                  f'| {fmt(v.get("pytorch_seconds_per_step"))} | {fmt(form.get("vs_pytorch"), 2)} |')

    parity = sorted(run.glob('parity_*.txt'))
    if parity:
        print('\n## PyTorch parity tests on the GPU devices\n')
        for f in parity:
            lines = f.read_text(errors='replace').splitlines()
            result = [l for l in lines if l.startswith('test result') or 'FAILED' in l
                      or 'panicked' in l]
            err = run / (f.name + '.err')
            tail = err.read_text(errors='replace').strip().splitlines()[-1:] if err.exists() else []
            print(f'- {f.name}: ' + ('; '.join(result[-3:]) or ' '.join(tail)[:200]))

    stems = sorted({f.stem for f in run.glob('ops_*.json')} | {f.stem for f in run.glob('ops_*.err')})
    for f in (run / (s + '.json') for s in stems):
        v = load(f)
        print(f'\n## Operations: {f.stem} (ms)\n')
        if not v:
            err = (run / (f.stem + '.err'))
            last = err.read_text().strip().splitlines()[-1:] if err.exists() else []
            print(f'not measured: {" ".join(last)[:200]}')
            continue
        torch = {r['op']: r for r in (v.get('pytorch') or {}).get('ops', [])}
        print('| op | asma fwd | asma bwd | first call | PyTorch fwd | PyTorch bwd |')
        print('|---|---|---|---|---|---|')
        for r in v.get('asma', []):
            t = torch.get(r['op'], {})
            print(f'| {r["op"]} | {fmt(r.get("forward_ms"), 2)} | {fmt(r.get("backward_ms"), 2)} '
                  f'| {fmt(r.get("first_call_ms"), 1)} | {fmt(t.get("forward_ms"), 2)} '
                  f'| {fmt(t.get("backward_ms"), 2)} |')


if __name__ == '__main__':
    main()
