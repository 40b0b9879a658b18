# Warnings, hardening and sanitizers applied to Quilt's own targets (never to generated code).
function(quilt_target_options target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wformat=2 -Werror
    -fstack-protector-strong -D_FORTIFY_SOURCE=2)
  target_link_options(${target} PRIVATE -Wl,-z,relro,-z,now)
  if(QUILT_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${QUILT_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${QUILT_SANITIZE})
  endif()
endfunction()
