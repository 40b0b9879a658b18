// The on-disk layout of one container ("bundle"): <state>/containers/<id>/.
#pragma once

#include <string>

namespace quilt {

struct Bundle {
  // `containers_dir` is <state>/containers; `id` must already be validated.
  Bundle(const std::string& containers_dir, const std::string& id)
      : dir(containers_dir + "/" + id) {}

  std::string dir;
  std::string config() const { return dir + "/config.json"; }
  std::string upper() const { return dir + "/upper"; }
  std::string work() const { return dir + "/work"; }
  std::string rootfs() const { return dir + "/rootfs"; }
  std::string log() const { return dir + "/container.log"; }
  std::string state() const { return dir + "/state.json"; }
  std::string exit() const { return dir + "/exit.json"; }
  std::string monitor_log() const { return dir + "/monitor.log"; }
  // The monitor's Attach socket (interactive containers only); see attach_server.h.
  std::string attach() const { return dir + "/attach.sock"; }
};

}  // namespace quilt
