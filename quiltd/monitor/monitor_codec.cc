#include "quiltd/monitor/monitor_codec.h"

#include <linux/filter.h>

#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <vector>

#include "nlohmann/json.hpp"

namespace quilt {
namespace {

using nlohmann::json;

const char* StageName(int32_t stage) {
  switch (static_cast<StartStage>(stage)) {
    case StartStage::kNone:
      return "start";
    case StartStage::kConfig:
      return "config";
    case StartStage::kPipes:
      return "pipes";
    case StartStage::kClone:
      return "clone";
    case StartStage::kCgroup:
      return "cgroup";
    case StartStage::kMounts:
      return "mounts";
    case StartStage::kPivotRoot:
      return "pivot_root";
    case StartStage::kIdentity:
      return "identity";
    case StartStage::kSetup:
      return "setup";
    case StartStage::kExec:
      return "exec";
    case StartStage::kSecurity:
      return "security";
    case StartStage::kUserNamespace:
      return "user namespace";
  }
  return "start";
}

// Runs `decode` and turns any nlohmann exception (syntax error, missing key via at(), type
// mismatch in get<>) into a false return: exceptions never leave this file.
template <typename Fn>
bool CatchingDecode(const char* what, const std::string& text, std::string* error, Fn decode) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) {
      *error = std::string("parse ") + what + ": not a JSON object";
      return false;
    }
    decode(j);
    return true;
  } catch (const std::exception& e) {
    *error = std::string("parse ") + what + ": " + e.what();
    return false;
  }
}

// The seccomp program travels as hex: JSON strings hold text.
std::string ToHex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// A program the kernel could take: whole instructions, at most BPF_MAXINSNS of them.
std::string SeccompProgramFromHex(const std::string& hex) {
  if (hex.size() % (2 * sizeof(sock_filter)) != 0 ||
      hex.size() / (2 * sizeof(sock_filter)) > BPF_MAXINSNS) {
    throw std::invalid_argument("seccomp_program is not a whole BPF program");
  }
  std::string bytes(hex.size() / 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int high = HexDigit(hex[2 * i]);
    const int low = HexDigit(hex[2 * i + 1]);
    if (high < 0 || low < 0) throw std::invalid_argument("seccomp_program is not lowercase hex");
    bytes[i] = static_cast<char>(high << 4 | low);
  }
  return bytes;
}

// Limits travel by name, with -1 for unlimited, as the API has them.
json RlimitsToJson(const std::vector<ResourceLimit>& limits) {
  json out = json::array();
  for (const ResourceLimit& limit : limits) {
    out.push_back({{"name", ResourceLimitName(limit.resource)},
                   {"soft", RlimToApi(limit.soft)},
                   {"hard", RlimToApi(limit.hard)}});
  }
  return out;
}

std::vector<ResourceLimit> RlimitsFromJson(const json& list) {
  std::vector<ResourceLimit> limits;
  for (const json& entry : list) {
    const std::optional<int> resource = ResourceLimitByName(entry.at("name").get<std::string>());
    if (!resource.has_value()) throw std::invalid_argument("rlimits: unknown name");
    const int64_t soft = entry.at("soft").get<int64_t>();
    const int64_t hard = entry.at("hard").get<int64_t>();
    if (soft < -1 || hard < -1) throw std::invalid_argument("rlimits: value below -1");
    limits.push_back({*resource, RlimFromApi(soft), RlimFromApi(hard)});
  }
  return limits;
}

}  // namespace

std::string SerializeMonitorConfig(const MonitorConfig& c) {
  json mounts = json::array();
  for (const BindMount& m : c.mounts) {
    mounts.push_back(
        {{"source", m.source}, {"destination", m.destination}, {"read_only", m.read_only}});
  }
  json tmpfs = json::array();
  for (const TmpfsMount& t : c.tmpfs) {
    tmpfs.push_back({{"destination", t.destination},
                     {"size_bytes", t.size_bytes},
                     {"mode", t.mode},
                     {"exec", t.exec}});
  }
  json j = {{"container_id", c.container_id},
            {"bundle_dir", c.bundle_dir},
            {"lower_dirs", c.lower_dirs},
            {"upper_dir", c.upper_dir},
            {"work_dir", c.work_dir},
            {"rootfs_dir", c.rootfs_dir},
            {"read_only_rootfs", c.read_only_rootfs},
            {"mounts", mounts},
            {"tmpfs", tmpfs},
            {"shm_size_bytes", c.shm_size_bytes},
            {"hostname", c.hostname},
            {"new_network", c.new_network},
            {"argv", c.argv},
            {"env", c.env},
            {"working_dir", c.working_dir},
            {"tty", c.tty},
            {"stdin_open", c.stdin_open},
            {"uid", c.uid},
            {"gid", c.gid},
            {"additional_gids", c.additional_gids},
            {"setup", c.setup},
            {"capabilities", c.capabilities},
            {"seccomp_program", ToHex(c.seccomp_program)},
            {"rlimits", RlimitsToJson(c.rlimits)},
            {"cgroup_procs_files", c.cgroup_procs_files},
            {"cgroup_v2_dir", c.cgroup_v2_dir},
            {"userns_host_id", c.userns_host_id},
            {"userns_size", c.userns_size},
            {"log_path", c.log_path},
            {"log_max_bytes", c.log_max_bytes},
            {"log_max_files", c.log_max_files},
            {"state_path", c.state_path},
            {"exit_path", c.exit_path}};
  return j.dump(2);
}

std::string SerializeMonitorState(const MonitorState& s) {
  json j = {
      {"monitor_pid", s.monitor_pid}, {"init_pid", s.init_pid}, {"started_at_ns", s.started_at_ns}};
  return j.dump(2);
}

std::string SerializeMonitorExit(const MonitorExit& e) {
  json j = {{"reason", e.reason},
            {"message", e.message},
            {"exit_code", e.exit_code},
            {"signal", e.signal},
            {"finished_at_ns", e.finished_at_ns}};
  return j.dump(2);
}

std::string DescribeStartFailure(const StartReport& report) {
  std::string detail(report.detail, strnlen(report.detail, sizeof(report.detail)));
  if (report.stage == static_cast<int32_t>(StartStage::kSetup)) {
    return "setup command " + std::to_string(report.setup_index + 1) + " (" + detail +
           ") exited with code " + std::to_string(report.exit_code);
  }
  std::string message = StageName(report.stage);
  if (!detail.empty()) message += ": " + detail;
  if (report.error != 0) message += std::string(": ") + strerror(report.error);
  return message;
}

namespace monitor_codec {

bool DecodeMonitorConfig(const std::string& json_text, MonitorConfig* out, std::string* error) {
  return CatchingDecode("monitor config", json_text, error, [out](const json& j) {
    MonitorConfig c;
    // Identity, rootfs, workload and output paths are required; the rest have defaults.
    j.at("container_id").get_to(c.container_id);
    j.at("bundle_dir").get_to(c.bundle_dir);
    j.at("lower_dirs").get_to(c.lower_dirs);
    j.at("upper_dir").get_to(c.upper_dir);
    j.at("work_dir").get_to(c.work_dir);
    j.at("rootfs_dir").get_to(c.rootfs_dir);
    c.read_only_rootfs = j.value("read_only_rootfs", false);
    for (const json& m : j.value("mounts", json::array())) {
      c.mounts.push_back({m.at("source").get<std::string>(), m.at("destination").get<std::string>(),
                          m.value("read_only", false)});
    }
    for (const json& t : j.value("tmpfs", json::array())) {
      c.tmpfs.push_back({t.at("destination").get<std::string>(), t.at("size_bytes").get<int64_t>(),
                         t.at("mode").get<uint32_t>(), t.at("exec").get<bool>()});
      if (c.tmpfs.back().size_bytes <= 0) throw std::invalid_argument("tmpfs size_bytes <= 0");
    }
    c.shm_size_bytes = j.value("shm_size_bytes", int64_t{0});
    if (c.shm_size_bytes < 0) throw std::invalid_argument("shm_size_bytes is negative");
    c.hostname = j.value("hostname", std::string());
    c.new_network = j.value("new_network", true);
    j.at("argv").get_to(c.argv);
    c.env = j.value("env", std::vector<std::string>());
    c.working_dir = j.value("working_dir", std::string("/"));
    c.tty = j.value("tty", false);
    c.stdin_open = j.value("stdin_open", false);
    c.uid = j.value("uid", uid_t{0});
    c.gid = j.value("gid", gid_t{0});
    c.additional_gids = j.value("additional_gids", std::vector<gid_t>());
    c.setup = j.value("setup", std::vector<std::string>());
    // Fail safe: a config without capabilities runs with none; one without a seccomp
    // program (an empty one means unconfined) does not run.
    c.capabilities = j.value("capabilities", uint64_t{0});
    c.seccomp_program = SeccompProgramFromHex(j.at("seccomp_program").get<std::string>());
    c.rlimits = RlimitsFromJson(j.value("rlimits", json::array()));
    c.cgroup_procs_files = j.value("cgroup_procs_files", std::vector<std::string>());
    c.cgroup_v2_dir = j.value("cgroup_v2_dir", std::string());
    c.userns_host_id = j.value("userns_host_id", uint32_t{0});
    c.userns_size = j.value("userns_size", uint32_t{0});
    j.at("log_path").get_to(c.log_path);
    c.log_max_bytes = j.value("log_max_bytes", int64_t{0});
    c.log_max_files = j.value("log_max_files", 1);
    j.at("state_path").get_to(c.state_path);
    j.at("exit_path").get_to(c.exit_path);
    if (c.argv.empty()) throw std::invalid_argument("argv is empty");
    if (c.lower_dirs.empty()) throw std::invalid_argument("lower_dirs is empty");
    *out = std::move(c);
  });
}

bool DecodeMonitorState(const std::string& json_text, MonitorState* out, std::string* error) {
  return CatchingDecode("monitor state", json_text, error, [out](const json& j) {
    MonitorState s;
    j.at("monitor_pid").get_to(s.monitor_pid);
    j.at("init_pid").get_to(s.init_pid);
    j.at("started_at_ns").get_to(s.started_at_ns);
    *out = s;
  });
}

bool DecodeMonitorExit(const std::string& json_text, MonitorExit* out, std::string* error) {
  return CatchingDecode("monitor exit", json_text, error, [out](const json& j) {
    MonitorExit e;
    j.at("reason").get_to(e.reason);
    e.message = j.value("message", std::string());
    j.at("exit_code").get_to(e.exit_code);
    e.signal = j.value("signal", int32_t{0});
    j.at("finished_at_ns").get_to(e.finished_at_ns);
    *out = std::move(e);
  });
}

}  // namespace monitor_codec
}  // namespace quilt
