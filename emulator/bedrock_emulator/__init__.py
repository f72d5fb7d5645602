"""A local Bedrock batch-inference service: the engine (rules, lifecycle, S3 I/O) and its HTTP front."""

from bedrock_emulator.engine import ApiError, BedrockEmulator
from bedrock_emulator.faults import Faults
from bedrock_emulator.limits import LimitTable, ModelLimits, Timing
from bedrock_emulator.server import EmulatorServer

__all__ = ["ApiError", "BedrockEmulator", "EmulatorServer", "Faults", "LimitTable", "ModelLimits", "Timing"]
