"""sentinet/training/optim.py: the loss (class and tweet weights, smoothing), the learning-rate
schedules, weight averaging — against hand-computed values and torch's own reductions."""

import pytest
import torch

from sentinet.config.schema import SchedulerConfig, TrainConfig, from_dict
from sentinet.errors import SentinetError
from sentinet.labels import LabelSet
from sentinet.training.optim import Averager, Schedule, build_loss

SENTIMENT = LabelSet((-1, 0, 1))


def test_balanced_class_weights_and_smoothing():
    loss = build_loss(TrainConfig(class_weights="balanced", label_smoothing=0.1), [0, 1, 1, 1, 1, 2], SENTIMENT)
    torch.testing.assert_close(loss.ce.weight, torch.tensor([2.0, 0.5, 2.0]))
    assert loss.ce.label_smoothing == 0.1
    assert build_loss(TrainConfig(), [0, 1], SENTIMENT).ce.weight is None
    with pytest.raises(SentinetError, match="class_weights"):
        from_dict({"train": {"class_weights": "inverse"}})
    with pytest.raises(SentinetError, match=r"train.class_weights\[1\]: -2.0 must be > 0"):
        from_dict({"train": {"class_weights": [1, -2]}})
    with pytest.raises(SentinetError, match="2 weights for the 3 classes"):
        build_loss(TrainConfig(class_weights=[1.0, 2.0]), [0, 1], SENTIMENT)


@pytest.mark.parametrize("class_weights", ["none", "balanced"])
def test_tweet_weights_match_torch_mean_and_act_as_copies(class_weights):
    """Weight 1 everywhere is torch's mean reduction; weight 2 on a tweet is that tweet twice."""
    torch.manual_seed(0)
    logits, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    cfg = TrainConfig(class_weights=class_weights, label_smoothing=0.1)
    loss = build_loss(cfg, labels.tolist(), SENTIMENT)
    reference = torch.nn.CrossEntropyLoss(weight=loss.ce.weight, label_smoothing=0.1)
    torch.testing.assert_close(loss(logits, labels), reference(logits, labels))
    torch.testing.assert_close(loss(logits, labels, torch.ones(5)), reference(logits, labels))
    weighted = loss(logits, labels, torch.tensor([2.0, 1, 1, 1, 1]))
    copies = torch.cat([logits[:1], logits]), torch.cat([labels[:1], labels])
    torch.testing.assert_close(weighted, reference(*copies))


def test_linear_schedule_warms_up_then_decays():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(SchedulerConfig(name="linear", warmup=0.2), opt, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.after_batch()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:])) and lrs[-1] < 0.2


@pytest.mark.parametrize("total, warmup", [(10, 0.2), (57, 0.2), (100, 0.0), (7, 1.0), (1, 0.5)])
def test_linear_schedule_is_the_closed_form_ramp(total, warmup):
    """torch's LinearLR + SequentialLR give exactly what the formula says at every step:
    (s+1)/w during the warmup of w steps, then (T-s)/(T-w) down to 0."""
    w = max(1, int(warmup * total))
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    schedule = Schedule(SchedulerConfig(name="linear", warmup=warmup), opt, total_steps=total)
    for step in range(total):
        expected = 0.3 * min((step + 1) / w, max(0.0, (total - step) / max(1, total - w)))
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12, abs=1e-15), step
        opt.step()
        schedule.after_batch()


def test_linear_schedule_resumes_from_a_checkpoint_of_the_old_lambda_schedule():
    """last.pt files written before SequentialLR hold a LambdaLR state: resuming one goes on
    with the same learning rates."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(SchedulerConfig(name="linear", warmup=0.2), opt, total_steps=10)
    for _ in range(6):
        opt.step()
        schedule.after_batch()
    lr = opt.param_groups[0]["lr"]
    again = Schedule(SchedulerConfig(name="linear", warmup=0.2),
                     torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), total_steps=10)
    again.load_state_dict({"base_lrs": [1.0], "last_epoch": 6, "lr_lambdas": [None]})
    assert again.scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(lr)


def test_plateau_schedule_decays_on_a_flat_dev_score():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(SchedulerConfig(name="plateau", patience=0, gamma=0.5), opt, 10)
    schedule.after_scoring(1, {"score": 0.5})
    schedule.after_scoring(2, {"score": 0.5})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)


def test_swa_is_the_plain_mean_of_epoch_end_weights_from_swa_start():
    model = torch.nn.Linear(1, 1, bias=False)
    averager = Averager(TrainConfig(averaging="swa", swa_start=2), model)
    assert averager.model is model  # nothing averaged yet: the live weights
    for epoch, value in enumerate([10.0, 1.0, 2.0, 6.0], 1):
        model.weight.data.fill_(value)
        averager.after_batch()  # swa ignores steps
        averager.after_train_epoch(epoch)
    assert averager.model is not model
    assert averager.model.weight.item() == pytest.approx(3.0)  # (1 + 2 + 6) / 3, epoch 1 skipped


def test_ema_follows_the_decay_formula():
    model = torch.nn.Linear(1, 1, bias=False)
    averager = Averager(TrainConfig(averaging="ema", ema_decay=0.5), model)
    for value in [4.0, 8.0, 0.0]:
        model.weight.data.fill_(value)
        averager.after_batch()
    assert averager.model.weight.item() == pytest.approx((4 * 0.5 + 8 * 0.5) * 0.5 + 0)  # 3.0
