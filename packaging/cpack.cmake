# The Debian package (`./scripts/package`, or `cpack -G DEB` in a build directory): the syncer command line only,
# the install rules of component cli (syncer/CMakeLists.txt). libregistry's headers, static libraries and CMake
# and pkg-config files are for `cmake --install` users and stay out of it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME syncer)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "syncer maintainers")
set(CPACK_PACKAGE_CONTACT "syncer maintainers <maintainers@users.noreply.r-seed-6513b2e4.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "copy and mirror OCI images between registries, byte for byte")
set(CPACK_PACKAGE_DESCRIPTION
    "syncer copies container images (manifests, indexes, blobs, referrers) between OCI registries without \
changing a byte, and mirrors many repositories from image-syncer style config files (it is installed as \
image-syncer too). It speaks the OCI distribution API directly: no daemon, no local image store.")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends: from the libraries the binary links, as dpkg-shlibdeps (dpkg-dev) finds them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# TLS verification uses OpenSSL's default paths (/etc/ssl/certs), which ca-certificates fills.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS ca-certificates)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};${PROJECT_NAME};cli;/")
include(CPack)
