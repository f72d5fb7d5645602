"""A local Bedrock batch-inference service: the engine (rules, lifecycle, S3 I/O) and its HTTP front."""

from bbq_local.emulator.engine import ApiError, BedrockEmulator
from bbq_local.emulator.faults import Faults
from bbq_local.emulator.limits import LimitTable, ModelLimits, Timing
from bbq_local.emulator.server import EmulatorServer

__all__ = ["ApiError", "BedrockEmulator", "EmulatorServer", "Faults", "LimitTable", "ModelLimits", "Timing"]
