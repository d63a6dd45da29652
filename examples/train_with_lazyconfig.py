# detectron2's LazyConfig (configs/*.py, LazyCall, instantiate): TrackR-CNN on the new_baselines
# R50-FPN Mask R-CNN with large-scale jitter, loaded by name, instantiated part by part, trained
# with detectron2's SimpleTrainer on MOTS clips and evaluated with MOTSEvaluator. Trailing
# key=value pairs override the config, as for detectron2's tools/lazyconfig_train_net.py, e.g.
#   python examples/train_with_lazyconfig.py train.max_iter=1000 train.device=cpu
import argparse

from detectron2.config import instantiate
from detectron2.engine import SimpleTrainer
from detectron2.evaluation import inference_on_dataset

import trackrcnn_d2
from trackrcnn_d2 import model_zoo
from trackrcnn_d2.checkpoint import MOTSCheckpointer
from trackrcnn_d2.engine.lazy_config import load_lazy_config
from trackrcnn_d2.utils.cli import ConfigError

parser = argparse.ArgumentParser(description="Train and evaluate TrackR-CNN's LazyConfig.")
parser.add_argument("opts", nargs="*", metavar="key=value", help="config overrides")
args = parser.parse_args()
trackrcnn_d2.register_all()  # the model components, datasets, tracker and evaluator

try:  # LazyConfig.load and apply_overrides, then a mistyped key or a bad value is refused
    cfg = load_lazy_config(model_zoo.get_config_file("kitti_mots_R_50_FPN_LSJ.py"), args.opts)
except ConfigError as e:
    parser.error(str(e))  # the usage line and what is wrong
model = instantiate(cfg.model).to(cfg.train.device)  # TrackRCNN around the zoo's FPN and heads
# The zoo's COCO weights, COCO's car and person rows initialising car and pedestrian.
class_map = instantiate(cfg.train.init_checkpoint_classes)
MOTSCheckpointer(model, class_map=class_map).load(cfg.train.init_checkpoint)

cfg.optimizer.params.model = model
optimizer = instantiate(cfg.optimizer)  # Adam at 5e-7 (paper Sec. 6)
trainer = SimpleTrainer(model, instantiate(cfg.dataloader.train), optimizer)  # clips of 8 frames
trainer.train(0, cfg.train.max_iter)

# Tracks each test sequence (Algorithm 1) and scores the tracks; they are written as KITTI MOTS
# txt files to train.output_dir/inference/<test set>/.
results = inference_on_dataset(
    model.eval(), instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator)
)
print({name: round(value, 1) for name, value in results["mots"].items() if "sMOTSA" in name})
