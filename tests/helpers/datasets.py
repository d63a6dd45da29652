"""A tiny synthetic MOTS set written and registered for a test module."""
import uuid


def registered_synthetic_set(folder, stem: str, **options):
    """``(root, prefix)``: the embedded synthetic set written to ``folder/synthetic_mots``
    (``options`` of ``generate_synthetic_mots``) and registered as ``<prefix>_train`` /
    ``<prefix>_val``, ``prefix`` unique to this call (``stem_<hex>``)."""
    from trackrcnn_d2.data import register_synthetic_mots
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots

    root = folder / "synthetic_mots"
    generate_synthetic_mots(str(root), **options)
    prefix = f"{stem}_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, str(root))
    return root, prefix
