# Fails if any file under DIR includes thread or socket headers or reads the
# clock: consensus code takes time as an argument (STYLE.md, "Consensus code
# is a pure function").
file(GLOB_RECURSE files ${DIR}/*.c ${DIR}/*.h)
set(bad "")
foreach(f ${files})
  file(STRINGS ${f} lines REGEX "#include <(pthread|sys/socket|netinet/[a-z]+|arpa/inet|netdb)\\.h>|[^_a-z]time\\(|clock_gettime|gettimeofday")
  if(lines)
    list(APPEND bad "${f}: ${lines}")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "core must stay pure:\n${bad}")
endif()
list(LENGTH files n)
message(STATUS "core purity: ${n} files clean")
