// Store and image records, and what Top reads of processes, to their quilt.v1 messages.
#pragma once

#include "quilt/v1/quilt.pb.h"
#include "quiltd/image/image_store.h"
#include "quiltd/runtime/process_table.h"
#include "quiltd/store/state_store.h"

namespace quilt {

v1::Container ToProto(const ContainerRecord& record);
v1::Image ToProto(const ImageRecord& record);
v1::ContainerState ToProto(ContainerState state);
v1::ContainerProcess ToProto(const ProcessInfo& info);

}  // namespace quilt
