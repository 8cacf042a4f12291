"""The checks ``benchmarks/gpu_check.py`` runs, one module per group (the script's docstring
lists what each prints):

- :mod:`.common`: the time budget, section reports and device timing every check uses;
- :mod:`.settings`: the configuration the checks run under (params.yaml, configs/paper.yaml);
- :mod:`.step`: 1-3, the training step at a fixed size (GIA pad fix, the joint loss against
  piq's, precision x memory format x CUDA graphs);
- :mod:`.busy` and :mod:`.training`: 4, the real ``train_variant`` loop and its GPU-busy share;
- :mod:`.evaluation`: 5, evaluation of full frames and each metric's cost;
- :mod:`.data_path`: 6, CPU cost per sample and loader throughput;
- :mod:`.equivalence`: 7, the loss each precision and memory format lands at;
- :mod:`.compiled`: 8, ``torch.compile`` in a child process;
- :mod:`.run`: every section in order, within the budget.
"""
