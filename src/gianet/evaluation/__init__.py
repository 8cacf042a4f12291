"""Evaluating a trained variant on full test frames: PSNR, SSIM, LPIPS and PieAPP."""
