# `nix flake check`: everything that needs no KVM.
{ self, pkgs }:
let
  system = pkgs.stdenv.hostPlatform.system;
  inherit (self.packages.${system}) oci-container;
in
{
  # Every .nix file is formatted as `nix fmt` would (nixfmt).
  formatting = pkgs.runCommand "formatting" { nativeBuildInputs = [ pkgs.nixfmt ]; } ''
    find ${self} -name '*.nix' -print0 | xargs -0 nixfmt --check
    touch $out
  '';

  # The container archive, unpacked and inspected without running it.
  oci-container-structure =
    pkgs.runCommand "oci-container-structure"
      {
        nativeBuildInputs = with pkgs; [
          coreutils
          gnutar
          gzip
          jq
          sqlite
          gnugrep
          gawk
        ];
      }
      ''
        bash ${./oci-container/structure-check.sh} ${oci-container}/nix.tar.gz
        touch $out
      '';

  # The EC2 system closure evaluates and builds (the disk image itself needs KVM: see kvmChecks).
  virtual-machine-system = self.nixosConfigurations.${system}.config.system.build.toplevel;

  shell = self.devShells.${system}.default;
}
