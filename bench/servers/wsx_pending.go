//go:build !wsxready

package servers

func init() {
	register(&Lib{Name: "wsx", Pending: "wsx.Accept/ReadMessage/Write not in the tree yet (build with -tags wsxready)"})
}
