#include "runtime/spec.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::sys::UsageError;

namespace {
ContainerSpec minimal() {
  ContainerSpec s;
  s.image = "busybox";
  s.command = {"true"};
  return s;
}
}  // namespace

TEST(Spec, ParseVolumeReadWriteAndReadOnly) {
  const auto rw = parse_volume("/tmp:/data");
  EXPECT_EQ(rw.host, "/tmp");
  EXPECT_EQ(rw.container, "/data");
  EXPECT_FALSE(rw.read_only);
  const auto ro = parse_volume("/tmp/:/a/b/../c:ro");
  EXPECT_EQ(ro.host, "/tmp");
  EXPECT_EQ(ro.container, "/a/c");
  EXPECT_TRUE(ro.read_only);
}

TEST(Spec, ParseVolumeMakesHostPathAbsolute) {
  const auto v = parse_volume("relative/dir:/x");
  EXPECT_EQ(v.host, (std::filesystem::current_path() / "relative/dir").string());
}

TEST(Spec, ParseVolumeRejectsBadInput) {
  EXPECT_THROW(parse_volume("/tmp"), UsageError);
  EXPECT_THROW(parse_volume("/tmp:relative"), UsageError);
  EXPECT_THROW(parse_volume("/tmp:/x:rx"), UsageError);
  EXPECT_THROW(parse_volume("/tmp:/../../etc"), UsageError);
  EXPECT_THROW(parse_volume("/tmp:/"), UsageError);
  EXPECT_THROW(parse_volume(":/x"), UsageError);
}

TEST(Spec, NormalizeContainerPath) {
  EXPECT_EQ(normalize_container_path("/"), "/");
  EXPECT_EQ(normalize_container_path("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(normalize_container_path("/a/../b"), "/b");
  EXPECT_THROW(normalize_container_path("/.."), UsageError);
  EXPECT_THROW(normalize_container_path("a/b"), UsageError);
}

TEST(Spec, EnvEntries) {
  EXPECT_EQ(parse_env_entry("A=1"), "A=1");
  EXPECT_EQ(parse_env_entry("A="), "A=");
  EXPECT_EQ(parse_env_entry("A=b=c"), "A=b=c");
  ::setenv("NRUN_SPEC_TEST_VAR", "from-host", 1);
  EXPECT_EQ(parse_env_entry("NRUN_SPEC_TEST_VAR"), "NRUN_SPEC_TEST_VAR=from-host");
  EXPECT_THROW(parse_env_entry("=x"), UsageError);
  EXPECT_THROW(parse_env_entry("A B=x"), UsageError);
}

TEST(Spec, EnvFileSkipsCommentsAndNamesBadLine) {
  const auto path = std::filesystem::temp_directory_path() / "nrun-spec-test.env";
  {
    std::ofstream f(path);
    f << "# comment\n\nA=1\n  B=two words\r\n";
  }
  EXPECT_EQ(read_env_file(path.string()), (std::vector<std::string>{"A=1", "B=two words"}));
  {
    std::ofstream f(path);
    f << "A=1\n=bad\n";
  }
  try {
    read_env_file(path.string());
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW(read_env_file(path.string()), UsageError);
}

TEST(Spec, ContainerNames) {
  EXPECT_TRUE(is_valid_container_name("web"));
  EXPECT_TRUE(is_valid_container_name("web-1.a_b"));
  EXPECT_FALSE(is_valid_container_name(""));
  EXPECT_FALSE(is_valid_container_name("../x"));
  EXPECT_FALSE(is_valid_container_name("a/b"));
  EXPECT_FALSE(is_valid_container_name("-a"));
  EXPECT_FALSE(is_valid_container_name(std::string(129, 'a')));
}

TEST(Spec, ValidateAcceptsMinimal) { EXPECT_NO_THROW(validate(minimal())); }

TEST(Spec, ValidateRejects) {
  auto s = minimal();
  s.name = "bad/name";
  EXPECT_THROW(validate(s), UsageError);
  s = minimal();
  s.command.clear();
  EXPECT_THROW(validate(s), UsageError);
  s = minimal();
  s.workdir = "relative";
  EXPECT_THROW(validate(s), UsageError);
  s = minimal();
  s.net = "bad/name";
  EXPECT_THROW(validate(s), UsageError);
  s = minimal();
  s.volumes.push_back({"/nonexistent/nrun/source", "/x", false});
  EXPECT_THROW(validate(s), UsageError);
  s = minimal();
  s.volumes.push_back({"/tmp", "/x", false});
  s.volumes.push_back({"/tmp", "/x/", false});
  EXPECT_THROW(validate(s), UsageError);
  s = minimal();
  s.hostname = "-bad-";
  EXPECT_THROW(validate(s), UsageError);
}

TEST(Spec, EffectiveEnvOverridesDefaults) {
  auto s = minimal();
  s.hostname = "h1";
  s.env = {"PATH=/bin", "FOO=bar"};
  const auto env = effective_env(s);
  EXPECT_EQ(env[0], "PATH=/bin");
  EXPECT_NE(std::find(env.begin(), env.end(), "HOSTNAME=h1"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "FOO=bar"), env.end());
  EXPECT_EQ(std::find(env.begin(), env.end(), "TERM=xterm"), env.end());
  s.tty = true;
  const auto tty_env = effective_env(s);
  EXPECT_NE(std::find(tty_env.begin(), tty_env.end(), "TERM=xterm"), tty_env.end());
}

TEST(Spec, JsonRoundTrip) {
  auto s = minimal();
  s.name = "n";
  s.env = {"A=1"};
  s.volumes = {{"/tmp", "/x", true}};
  s.tty = s.remove = s.read_only = true;
  s.net = "host";
  nlohmann::json j = s;
  const auto back = j.get<ContainerSpec>();
  EXPECT_EQ(back.name, "n");
  EXPECT_EQ(back.command, s.command);
  EXPECT_EQ(back.volumes, s.volumes);
  EXPECT_TRUE(back.tty && back.remove && back.read_only);
  EXPECT_EQ(back.net, "host");
}

TEST(ImageArgument, FirstWordIsImageOnlyWhenItExists) {
  auto is_image = [](const std::string& w) { return w == "busybox" || w == "alpine"; };
  auto r = split_image_and_command({"top"}, is_image, "busybox");
  EXPECT_EQ(r.image, "busybox");
  EXPECT_EQ(r.command, std::vector<std::string>{"top"});
  r = split_image_and_command({"alpine", "ls", "-l"}, is_image, "busybox");
  EXPECT_EQ(r.image, "alpine");
  EXPECT_EQ(r.command, (std::vector<std::string>{"ls", "-l"}));
  r = split_image_and_command({"alpine"}, is_image, "busybox");
  EXPECT_EQ(r.command, std::vector<std::string>{"sh"});
  EXPECT_THROW(split_image_and_command({"--bogus", "x"}, is_image, "busybox"), UsageError);
}

TEST(Spec, ExecSizeAgainstTheKernelsLimits) {
  EXPECT_NO_THROW(validate_exec_size({"sh", "-c", std::string(100000, 'x')}, {"A=" + std::string(100000, 'y')}));
  // One string past MAX_ARG_STRLEN.
  EXPECT_THROW(validate_exec_size({"true"}, {"A=" + std::string(1 << 20, 'y')}), UsageError);
  EXPECT_THROW(validate_exec_size({"echo", std::string(131072, 'x')}, {}), UsageError);
  // Many strings, each fine, past the total (7 MB of 100 KB variables, over any stack limit).
  std::vector<std::string> env;
  for (int i = 0; i < 70; ++i) env.push_back("V" + std::to_string(i) + "=" + std::string(100000, 'z'));
  EXPECT_THROW(validate_exec_size({"true"}, env), UsageError);
}
