"""Helpers of the end-to-end tools (train_net.py, demo.py): atomic output folders, video frame
input/output, near-online video tracking with a trained model, and rendering of tracks."""
