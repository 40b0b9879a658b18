#include "quiltd/service/proto_conversion.h"

namespace quilt {
namespace {

void SetTime(int64_t ns, google::protobuf::Timestamp* out) {
  out->set_seconds(ns / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

}  // namespace

v1::ContainerState ToProto(ContainerState state) {
  switch (state) {
    case ContainerState::kCreated:
      return v1::CONTAINER_STATE_CREATED;
    case ContainerState::kRunning:
      return v1::CONTAINER_STATE_RUNNING;
    case ContainerState::kExited:
      return v1::CONTAINER_STATE_EXITED;
    case ContainerState::kFailed:
      return v1::CONTAINER_STATE_FAILED;
  }
  return v1::CONTAINER_STATE_UNSPECIFIED;
}

v1::Container ToProto(const ContainerRecord& record) {
  v1::Container out;
  out.set_id(record.id);
  out.set_name(record.name);
  out.set_image_digest(record.image_digest);
  out.mutable_spec()->ParseFromString(record.spec);
  out.set_state(ToProto(record.state));
  out.set_pid(record.state == ContainerState::kRunning ? record.init_pid : 0);
  out.set_exit_code(record.exit_code);
  out.set_exit_signal(record.exit_signal);
  out.set_reason(record.reason);
  out.set_message(record.message);
  SetTime(record.created_at_ns, out.mutable_created_at());
  if (record.started_at_ns != 0) SetTime(record.started_at_ns, out.mutable_started_at());
  if (record.finished_at_ns != 0) SetTime(record.finished_at_ns, out.mutable_finished_at());
  return out;
}

v1::ContainerProcess ToProto(const ProcessInfo& info) {
  v1::ContainerProcess out;
  out.set_pid(info.pid);
  out.set_host_pid(info.host_pid);
  out.set_ppid(info.ppid);
  out.set_uid(info.uid);
  out.set_state(std::string(1, info.state));
  out.set_rss_bytes(info.rss_bytes);
  out.set_cpu_ns(info.cpu_ns);
  for (const std::string& arg : info.argv) out.add_argv(arg);
  out.set_name(info.name);
  return out;
}

v1::Image ToProto(const ImageRecord& record) {
  v1::Image out;
  out.set_digest(record.digest);
  for (const std::string& name : record.names) out.add_names(name);
  out.set_size_bytes(record.size_bytes);
  SetTime(record.created_at_ns, out.mutable_created_at());
  for (const std::string& layer : record.layers) out.add_layers("sha256:" + layer);
  const ImageConfig& c = record.config;
  v1::ImageConfig* config = out.mutable_config();
  config->mutable_entrypoint()->Assign(c.entrypoint.begin(), c.entrypoint.end());
  config->mutable_cmd()->Assign(c.cmd.begin(), c.cmd.end());
  config->mutable_env()->Assign(c.env.begin(), c.env.end());
  config->set_working_dir(c.working_dir);
  config->set_user(c.user);
  return out;
}

}  // namespace quilt
