"""Training on real footage: ``vsvideogen train TASK``.

footage.py decodes clips (files or .vpy scripts) into memory and finds scene cuts; photos.py loads photos
and renders synthetic camera moves over them; augment.py holds the random augmentations; losses.py the
losses and PSNR; trainer.py the task-agnostic loop (checkpoints, resume, validation, logs, plot, export);
interpolate.py the frame-interpolation task; degrade.py the LR degradations, discriminator.py a patch
discriminator for adversarial losses and upscale.py the super-resolution task. Nothing here is imported by
``import vsvideogen``.
"""
