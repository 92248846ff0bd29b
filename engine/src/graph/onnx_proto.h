// The ONNX protobuf classes, generated at build time from Debian's onnx.proto.
#pragma once

#include "onnx_qs.pb.h"
