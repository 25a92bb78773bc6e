# Re-exports Bazel's native Java rules so that the builtin tools' load()s of
# @rules_java resolve offline (nothing in Roost is Java).
java_import = native.java_import
java_runtime = native.java_runtime
java_toolchain = native.java_toolchain
java_binary = native.java_binary
java_library = native.java_library
