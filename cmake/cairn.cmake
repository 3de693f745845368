# cairn_module(NAME DIR DEPS...) — a static library from every .c in DIR
# (an INTERFACE library while DIR has none yet), so modules grow without
# editing CMake files and helpers never fight over one source list.
function(cairn_module name dir)
  file(GLOB _src CONFIGURE_DEPENDS ${dir}/*.c)
  if(_src)
    add_library(${name} STATIC ${_src})
    target_include_directories(${name} PUBLIC ${dir})
    target_link_libraries(${name} PUBLIC ${ARGN})
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${dir})
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
endfunction()
